output "region" {
  description = "The region everything is in."
  value       = var.region
}

output "ecr_registry" {
  description = "The private registry: ./scripts/push-ecr --registry-from-terraform terraform reads it."
  value       = module.ecr.registry
}

output "ecr_repositories" {
  description = "Repository URL by service: the four services and the registrator's copy, each REGISTRY/NAME/SERVICE."
  value       = module.ecr.repository_urls
}

output "registrator_image" {
  description = "Where scripts/copy-registrator-image puts the Lambda registrator's image, and where the registrator runs it from."
  value       = "${module.ecr.repository_urls[local.registrator_repository]}:${var.registrator_version}"
}

output "consul_http_addr" {
  description = "CONSUL_HTTP_ADDR for the consul CLI and the UI (from ingress_cidrs only)."
  value       = "http://${module.consul_server.lb_dns_name}:8500"
}

output "consul_http_token" {
  description = "CONSUL_HTTP_TOKEN: the dev server's bootstrap token. terraform output -raw consul_http_token"
  value       = module.consul_server.bootstrap_token_id
  sensitive   = true
}

output "ingress_url" {
  description = "Step 1 on: the URL the demo answers on (curl it)."
  value       = one(module.ingress_alb[*].url)
}

output "prometheus_url" {
  description = "Step 1 on (unless prometheus = false): Prometheus's UI and HTTP API, from ingress_cidrs only: what split migrate's metrics judge reads."
  value       = one(module.prometheus[*].url)
}

output "name" {
  description = "The copy's name: the prefix of its ECR repositories (REGISTRY/NAME/SERVICE), which scripts/push-ecr and scripts/copy-registrator-image read."
  value       = var.name
}

output "mesh_gateway_uri" {
  description = "Step 2 on: CONSUL_MESH_GATEWAY_URI, host:port of the mesh gateway."
  value       = one(module.mesh_gateway_lb[*].address)
}

output "lambda" {
  description = "Step 3 on: everything scripts/deploy-lambda passes to `cargo lambda deploy`."
  value = one([for f in module.greeter_lambda : {
    function_name         = f.function_name
    region                = var.region
    role_arn              = f.role_arn
    layer_arn             = f.layer_arn
    subnet_ids            = module.vpc.private_subnets
    security_group_ids    = [module.network.lambda_security_group_id]
    mesh_gateway_uri      = one(module.mesh_gateway_lb[*].address)
    extension_data_prefix = f.extension_data_prefix
  }])
}

output "steps" {
  description = "Which of the four steps this apply has on."
  value = {
    "1_deploy_ecs_services"  = var.deploy_ecs_services
    "2_deploy_consul_lambda" = var.deploy_consul_lambda
    "3_deploy_lambda"        = var.deploy_lambda
    "4_migrate_to_lambda"    = var.migrate_to_lambda
  }
}

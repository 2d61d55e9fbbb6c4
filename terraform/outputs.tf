output "region" {
  description = "The region everything is in."
  value       = var.region
}

output "ecr_registry" {
  description = "The private registry: ./scripts/push-ecr --registry-from-terraform terraform reads it."
  value       = module.ecr.registry
}

output "ecr_repositories" {
  description = "Repository URL by name: the four services and the registrator's copy."
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

output "mesh_gateway_uri" {
  description = "Step 2 on: CONSUL_MESH_GATEWAY_URI, host:port of the mesh gateway."
  value       = one([for k, g in module.gateway : "${g.wan_address}:${g.wan_port}" if k == "mesh-gateway"])
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
    mesh_gateway_uri      = one([for k, g in module.gateway : "${g.wan_address}:${g.wan_port}" if k == "mesh-gateway"])
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

output "region" {
  description = "The region everything is in."
  value       = var.region
}

output "ecr_registry" {
  description = "The private registry: ./scripts/push-ecr --registry-from-terraform terraform reads it."
  value       = module.ecr.registry
}

output "ecr_repositories" {
  description = "Repository URL by image: the four services, split (the migration controller) and the registrator's copy, each REGISTRY/NAME/IMAGE."
  value       = module.ecr.repository_urls
}

output "registrator_image" {
  description = "Where scripts/copy-registrator-image puts the Lambda registrator's image, and where the registrator runs it from."
  value       = "${module.ecr.repository_urls[local.registrator_repository]}:${var.registrator_version}"
}

output "consul_http_addr" {
  description = "CONSUL_HTTP_ADDR for the consul CLI and the UI: the dev server's load balancer (from ingress_cidrs only), or your servers' HTTPS address as the tasks reach it."
  value       = local.existing_consul ? local.consul_https_addr : "http://${one(module.consul_server[*].lb_dns_name)}:8500"
}

output "consul_http_token" {
  description = "CONSUL_HTTP_TOKEN: the dev server's bootstrap token (terraform output -raw consul_http_token); null with your own Consul, whose tokens are yours."
  value       = one(module.consul_server[*].bootstrap_token_id)
  sensitive   = true
}

output "consul" {
  description = "The Consul servers the mesh uses: which (dev-server or existing), their datacenter, the address the tasks reach, and the VPC CIDR your own servers must admit on their HTTPS and gRPC ports."
  value = {
    servers    = var.consul_servers
    datacenter = local.consul.datacenter
    https_addr = local.consul_https_addr
    vpc_cidr   = var.vpc_cidr
  }
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

output "migration_controller" {
  description = "The migration controller (on with step 4 unless migration_controller = false): the secret holding its Consul token's SecretID (from step 0 on, for consul acl token create -secret), the node its session binds to, its judge's Prometheus as it reaches it (from step 1 on, for split rollout start --prometheus), and, once running, its ECS service and the name Prometheus scrapes it at."
  value = var.migration_controller ? {
    token_secret   = aws_secretsmanager_secret.controller_token[0].name
    session_node   = local.consul.session_node
    prometheus_url = one(module.prometheus[*].url_in_vpc)
    service        = one(module.migration_controller[*].service_name)
    dns_name       = one(module.migration_controller[*].dns_name)
  } : null
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

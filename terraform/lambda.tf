# Steps 2 to 4: the Lambda side of the mesh.

# Step 2 (deploy_consul_lambda): the registrator, which registers every
# function tagged serverless.consul.hashicorp.com/v1alpha1/lambda/enabled, and
# the two gateways: the terminating gateway invokes the Lambda for the mesh,
# the mesh gateway lets the Lambda's extension call into the mesh.

# The registrator reads its token and Consul's CA from Parameter Store.
data "aws_secretsmanager_secret_version" "consul_ca_cert" {
  count     = var.deploy_consul_lambda ? 1 : 0
  secret_id = module.consul_server.ca_cert_arn
  # The secret's ARN is known before its value is written: read after the server.
  depends_on = [module.consul_server]
}

resource "aws_ssm_parameter" "registrator_token" {
  # checkov:skip=CKV_AWS_337:SecureString under the account's aws/ssm key; a customer-managed key costs $1 a month and outlives a destroy by 7 days
  count = var.deploy_consul_lambda ? 1 : 0

  name        = "/${var.name}/registrator/acl-token"
  description = "Consul ACL token of the Lambda registrator (the dev server's bootstrap token)"
  type        = "SecureString"
  value       = module.consul_server.bootstrap_token_id
}

resource "aws_ssm_parameter" "registrator_ca_cert" {
  # checkov:skip=CKV_AWS_337:as above; a CA certificate is public anyway
  count = var.deploy_consul_lambda ? 1 : 0

  name        = "/${var.name}/registrator/ca-cert"
  description = "The Consul server's CA certificate, for the Lambda registrator"
  type        = "SecureString"
  value       = data.aws_secretsmanager_secret_version.consul_ca_cert[0].secret_string
}

module "lambda_registrator" {
  # checkov:skip=CKV_TF_1:a registry module pinned to an exact version; a git commit source would bypass the registry
  # 0.1.0-beta4: the last version needing only the aws provider. beta5 adds the
  # docker provider and a provider block, which rules out `count` here.
  source  = "hashicorp/consul-lambda-registrator/aws//modules/lambda-registrator"
  version = "0.1.0-beta4"
  count   = var.deploy_consul_lambda ? 1 : 0

  name                         = "${var.name}-lambda-registrator"
  ecr_image_uri                = "${module.ecr.repository_urls[local.registrator_repository]}:${var.registrator_version}"
  consul_http_addr             = "https://${module.consul_server.server_dns}:8501"
  consul_ca_cert_path          = aws_ssm_parameter.registrator_ca_cert[0].name
  consul_http_token_path       = aws_ssm_parameter.registrator_token[0].name
  consul_extension_data_prefix = local.extension_data_prefix
  subnet_ids                   = module.vpc.private_subnets
  security_group_ids           = [module.network.mesh_security_group_id]
  sync_frequency_in_minutes    = 1
}

# The two gateways differ in kind, name and load balancer only.
locals {
  gateways = {
    # greeter-lambda's extension reaches the mesh gateway at its NLB's
    # address, which the module makes internet-facing; its port admits the
    # VPC only, and every connection through it is mTLS with a certificate
    # from Consul's CA. Its Consul service and NLB are named after the family.
    mesh-gateway = { service_name = "", load_balancer = true }
    # Only the mesh calls the terminating gateway: no load balancer. Its
    # Consul name is the Name in consul/terminating-gateway.hcl.
    terminating-gateway = { service_name = "terminating-gateway", load_balancer = false }
  }
}

module "gateway" {
  # checkov:skip=CKV_TF_1:a registry module pinned to an exact version; a git commit source would bypass the registry
  source   = "hashicorp/consul-ecs/aws//modules/gateway-task"
  version  = "0.10.0"
  for_each = var.deploy_consul_lambda ? local.gateways : {}

  kind                     = each.key
  family                   = "${var.name}-${each.key}"
  consul_service_name      = each.value.service_name
  ecs_cluster_arn          = module.cluster.cluster_arn
  launch_type              = "FARGATE"
  requires_compatibilities = ["FARGATE"]
  enable_transparent_proxy = false
  subnets                  = module.vpc.private_subnets
  security_groups          = [module.network.mesh_security_group_id]
  consul_server_hosts      = module.consul_server.server_dns
  tls                      = true
  consul_ca_cert_arn       = module.consul_server.ca_cert_arn
  acls                     = true
  consul_dataplane_image   = var.consul_dataplane_image
  log_configuration        = local.log_configuration[each.key]

  lb_enabled                  = each.value.load_balancer
  lb_vpc_id                   = each.value.load_balancer ? module.vpc.vpc_id : ""
  lb_subnets                  = each.value.load_balancer ? module.vpc.public_subnets : []
  lb_ingress_rule_cidr_blocks = [module.vpc.vpc_cidr_block]
  # Without a load balancer the module would still index the security group
  # it makes for one, unless told not to make it.
  lb_create_security_group = each.value.load_balancer

  # Step 4 (migrate_to_lambda): the terminating gateway's Envoy signs
  # invocations of greeter-lambda with this task role. Attaching the policy
  # changes the role, not the task: nothing restarts.
  additional_task_role_policies = each.key == "terminating-gateway" && var.migrate_to_lambda ? [module.greeter_lambda[0].invoke_policy_arn] : []
}

# Step 3 (deploy_lambda): greeter-lambda's role, the extension layer and its
# log group; its subnets and security group come from the VPC and mesh-network.
# scripts/deploy-lambda then runs `cargo lambda deploy` with them.
module "greeter_lambda" {
  source = "./modules/greeter-lambda"
  count  = var.deploy_lambda ? 1 : 0

  extension_zip         = var.consul_lambda_extension_zip
  extension_version     = var.consul_lambda_extension_version
  extension_data_prefix = local.extension_data_prefix
}

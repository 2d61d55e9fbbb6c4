# Steps 2 to 4: the Lambda side of the mesh.

# Step 2 (deploy_consul_lambda): the registrator, which registers every
# function tagged serverless.consul.hashicorp.com/v1alpha1/lambda/enabled, and
# the two gateways: the terminating gateway invokes the Lambda for the mesh,
# the mesh gateway lets the Lambda's extension call into the mesh.

# The registrator reads its Consul token and Consul's CA from Parameter Store
# paths. Parameter Store serves a Secrets Manager secret at
# /aws/reference/secretsmanager/<name>, so both are read where they are kept:
# dev-server's secrets ("<its name>-bootstrap-token" and "<its name>-ca-cert"
# in consul-ecs 0.10.0), or your own, named by their ARNs (the name is what
# precedes the ARN's -XXXXXX suffix). No copy in Terraform, and no data source
# re-reading the CA whenever the server module changes.
locals {
  consul_secret_paths = local.existing_consul ? {
    token   = "/aws/reference/secretsmanager/${regex("secret:(.+)-[A-Za-z0-9]{6}$", local.consul.registrator_token_arn)[0]}"
    ca_cert = "/aws/reference/secretsmanager/${regex("secret:(.+)-[A-Za-z0-9]{6}$", local.consul.ca_cert_arn)[0]}"
    } : {
    token   = "/aws/reference/secretsmanager/${var.name}-consul-bootstrap-token"
    ca_cert = "/aws/reference/secretsmanager/${var.name}-consul-ca-cert"
  }
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
  consul_http_addr             = local.consul_https_addr
  consul_ca_cert_path          = local.consul_secret_paths.ca_cert
  consul_http_token_path       = local.consul_secret_paths.token
  consul_extension_data_prefix = local.extension_data_prefix
  subnet_ids                   = module.vpc.private_subnets
  security_group_ids           = [module.network.mesh_security_group_id]
  sync_frequency_in_minutes    = 1
}

# The module grants ssm:GetParameter on both paths; reading a secret through
# Parameter Store also takes secretsmanager:GetSecretValue on the secret.
resource "aws_iam_role_policy" "registrator_secrets" {
  count = var.deploy_consul_lambda ? 1 : 0

  name = "${var.name}-lambda-registrator-consul-secrets"
  # The module names its role after its `name` (0.1.0-beta4 has no outputs).
  role = "${var.name}-lambda-registrator"
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "ConsulTokenAndCA"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = [local.consul.registrator_token_arn, local.consul.ca_cert_arn]
    }]
  })
  depends_on = [module.lambda_registrator]
}

# The two gateways differ in kind, name and load balancer only.
locals {
  gateways = {
    # greeter-lambda's extension reaches the mesh gateway through
    # mesh-gateway-lb's internal NLB (below), not the module's own, which
    # would be internet-facing with no security group and, without
    # client-IP preservation, would let anyone on the internet reach the
    # port. Who reaches it now: greeter-lambda's security group, through the
    # NLB (which admits nothing else and has no public address), and the
    # mesh's own tasks (the mesh group admits its members on any port). Past
    # the port every connection is mTLS with certificates from Consul's CA,
    # and intentions decide who calls whom. Its Consul service is named
    # after the family.
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
  security_groups          = concat([module.network.mesh_security_group_id], each.value.load_balancer ? [module.mesh_gateway_lb[0].gateway_security_group_id] : [])
  consul_server_hosts      = local.consul.hosts
  skip_server_watch        = local.consul.skip_server_watch
  tls                      = true
  tls_server_name          = local.consul.tls_server_name
  http_config              = local.consul_http_config
  grpc_config              = local.consul_grpc_config
  consul_ca_cert_arn       = local.consul.ca_cert_arn
  acls                     = true
  consul_dataplane_image   = var.consul_dataplane_image
  log_configuration        = local.log_configuration[each.key]

  # Our own load balancer, not the module's (lb_enabled): its target group,
  # and its address as the gateway's WAN address. Without lb_enabled the
  # module would still index the security group it makes for one, unless
  # told not to make it.
  lb_enabled                  = false
  lb_create_security_group    = false
  custom_load_balancer_config = each.value.load_balancer ? [{ target_group_arn = module.mesh_gateway_lb[0].target_group_arn, container_name = "consul-dataplane", container_port = module.mesh_gateway_lb[0].port }] : []
  wan_address                 = each.value.load_balancer ? module.mesh_gateway_lb[0].dns_name : ""
  wan_port                    = each.value.load_balancer ? module.mesh_gateway_lb[0].port : 0

  # Step 4 (migrate_to_lambda): the terminating gateway's Envoy signs
  # invocations of greeter-lambda with this task role. Attaching the policy
  # changes the role, not the task: nothing restarts.
  additional_task_role_policies = each.key == "terminating-gateway" && var.migrate_to_lambda ? [module.greeter_lambda[0].invoke_policy_arn] : []
}

module "mesh_gateway_lb" {
  source = "./modules/mesh-gateway-lb"
  count  = var.deploy_consul_lambda ? 1 : 0

  name       = var.name
  vpc_id     = module.vpc.vpc_id
  subnet_ids = module.vpc.private_subnets
  callers    = { greeter-lambda = module.network.lambda_security_group_id }
}

# Step 3 (deploy_lambda): greeter-lambda's role, the extension layer and its
# log group; its subnets and security group come from the VPC and mesh-network.
# scripts/deploy-lambda then runs `cargo lambda deploy` with them.
module "greeter_lambda" {
  source = "./modules/greeter-lambda"
  count  = var.deploy_lambda ? 1 : 0

  name = var.name
  # The function's name is its Consul service's, which consul/ and split
  # name: greeter-lambda in every copy (see README.md, "Names").

  extension_zip         = var.consul_lambda_extension_zip
  extension_version     = var.consul_lambda_extension_version
  extension_data_prefix = local.extension_data_prefix
}

# With step 4 (migrate_to_lambda, unless migration_controller = false): the
# migration controller, `split controller`, as an ECS service of
# migration_controller_count Fargate tasks from the split image in ECR. One
# leads through a Consul session lock on CONSUL_SESSION_NODE; the migration's
# state is in Consul's KV under greeter-mesh/, so split rollout (start,
# status, pause, resume, approve, abort) works from any machine that reaches
# Consul. Its judge is the Prometheus beside step 1, which scrapes its
# /metrics through Cloud Map.
#
# Why step 4 and not a switch of its own: it has nothing to do before the
# terminating gateway may invoke greeter-lambda, and its judge reads the
# mesh's metrics from step 1 on; as prometheus is to step 1, it is on with
# step 4 unless switched off, so toggles.auto.tfvars keeps the original's
# four steps. Off, the migration runs from one terminal with split migrate.

locals {
  controller_enabled  = var.migration_controller && var.migrate_to_lambda
  controller_port     = 9470
  controller_dns_name = "migration-controller.${local.tasks_namespace}"
}

# The controller's Consul token, made here so that it exists from step 0 on:
# its SecretID is a UUID Terraform draws once (uuid() changes on every plan;
# ignore_changes keeps the first). Consul learns it from docs/aws.md's walk-
# through: consul acl token create -secret <this> -policy-name
# migration-controller, with the policy of consul/acl/migration-controller.hcl
# (the aws provider alone cannot write Consul's ACLs). Rotating it: put a new
# UUID here and create that token, then delete the old one.
resource "aws_secretsmanager_secret" "controller_token" {
  # checkov:skip=CKV_AWS_149:encrypted with the account's aws/secretsmanager key, as dev-server's secrets are; a customer key costs a month's fee per copy and every reader would need kms:Decrypt
  # checkov:skip=CKV2_AWS_57:a Consul token: rotating it means a new token in Consul, which only the consul CLI can make (see the comment above)
  count = var.migration_controller ? 1 : 0

  name        = "${var.name}-migration-controller-consul-token"
  description = "${var.name}: the migration controller's Consul token (SecretID), policy consul/acl/migration-controller.hcl"
  # No recovery window: a copy destroyed and applied again takes the name back at once.
  recovery_window_in_days = 0
}

resource "aws_secretsmanager_secret_version" "controller_token" {
  count = var.migration_controller ? 1 : 0

  secret_id     = aws_secretsmanager_secret.controller_token[0].id
  secret_string = uuid()

  lifecycle {
    ignore_changes = [secret_string]
  }
}

module "migration_controller" {
  source = "./modules/migration-controller"
  count  = local.controller_enabled ? 1 : 0

  name            = var.name
  vpc_id          = module.vpc.vpc_id
  subnet_ids      = module.vpc.private_subnets
  cluster_arn     = module.cluster.cluster_arn
  log_group_name  = module.cluster.log_group_name
  image           = "${module.ecr.repository_urls[local.split_repository]}:${var.image_tag}"
  ca_writer_image = var.consul_image
  desired_count   = var.migration_controller_count
  port            = local.controller_port

  consul_http_addr                 = local.consul_https_addr
  consul_https_port                = local.consul.https_port
  consul_tls_server_name           = local.consul.tls_server_name
  consul_ca_cert_secret_arn        = local.consul.ca_cert_arn
  consul_token_secret_arn          = aws_secretsmanager_secret.controller_token[0].arn
  consul_session_node              = local.consul.session_node
  consul_server_security_group_ids = local.consul.security_group_ids
  consul_cidrs                     = local.consul.cidrs

  prometheus_url               = module.prometheus[0].url_in_vpc
  prometheus_port              = module.prometheus[0].port
  prometheus_security_group_id = module.prometheus[0].security_group_id
  service_discovery_namespace  = { id = local.tasks_namespace_id, name = local.tasks_namespace }
}

# The migration controller (`split controller`) as an ECS service of
# Fargate tasks: one leads through a Consul session lock, the others wait
# to take over. It keeps the migration's state in Consul's KV under
# greeter-mesh/, writes greeter's service-splitter and judges each step on
# Prometheus, with a least-privilege Consul token from Secrets Manager
# (consul/acl/migration-controller.hcl).
#
# Who reaches what: Prometheus alone reaches it, on its port (/metrics; also
# /health and /status); it reaches Consul's HTTPS port, Prometheus's API and
# HTTPS on the internet (its image, Secrets Manager, CloudWatch Logs and the
# webhooks people give split rollout), and no Envoy: on AWS its target is
# Consul's splitter.

locals {
  ca_dir  = "/consul-ca"
  ca_file = "${local.ca_dir}/ca.pem"
  environment = merge(
    {
      CONTROLLER_STORE    = "consul"
      CONTROLLER_TARGET   = "consul"
      CONTROLLER_PORT     = tostring(var.port)
      CONSUL_SESSION_NODE = var.consul_session_node
      PROMETHEUS_URL      = var.prometheus_url
      CONSUL_HTTP_ADDR    = var.consul_http_addr
      CONSUL_CACERT       = local.ca_file
      LOG_FORMAT          = "json"
    },
    var.consul_tls_server_name == "" ? {} : { CONSUL_TLS_SERVER_NAME = var.consul_tls_server_name },
  )
  secrets = { CONSUL_HTTP_TOKEN = var.consul_token_secret_arn }
  log_options = {
    awslogs-group  = var.log_group_name
    awslogs-region = data.aws_region.current.name
  }
}

data "aws_region" "current" {}
data "aws_partition" "current" {}

resource "aws_security_group" "controller" {
  name        = "${var.name}-migration-controller"
  description = "${var.name} migration controller: in from Prometheus, out to Consul and Prometheus"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "controller_from_prometheus" {
  security_group_id            = aws_security_group.controller.id
  description                  = "Scraped by Prometheus"
  referenced_security_group_id = var.prometheus_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
}

resource "aws_vpc_security_group_egress_rule" "prometheus_to_controller" {
  security_group_id            = var.prometheus_security_group_id
  description                  = "Scrapes ${var.name}'s migration controller"
  referenced_security_group_id = aws_security_group.controller.id
  ip_protocol                  = "tcp"
  from_port                    = var.port
  to_port                      = var.port
}

resource "aws_vpc_security_group_egress_rule" "controller_to_prometheus" {
  security_group_id            = aws_security_group.controller.id
  description                  = "Prometheus's query API: the judge"
  referenced_security_group_id = var.prometheus_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = var.prometheus_port
  to_port                      = var.prometheus_port
}

resource "aws_vpc_security_group_ingress_rule" "prometheus_from_controller" {
  security_group_id            = var.prometheus_security_group_id
  description                  = "${var.name}'s migration controller queries the API"
  referenced_security_group_id = aws_security_group.controller.id
  ip_protocol                  = "tcp"
  from_port                    = var.prometheus_port
  to_port                      = var.prometheus_port
}

# Consul by its servers' group (the dev server, in this VPC) or by the
# blocks they are in (servers of your own, beyond it).
resource "aws_vpc_security_group_egress_rule" "controller_to_consul" {
  count = length(var.consul_server_security_group_ids)

  security_group_id            = aws_security_group.controller.id
  description                  = "Consul's HTTP API over TLS"
  referenced_security_group_id = var.consul_server_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = var.consul_https_port
  to_port                      = var.consul_https_port
}

resource "aws_vpc_security_group_ingress_rule" "consul_from_controller" {
  count = length(var.consul_server_security_group_ids)

  security_group_id            = var.consul_server_security_group_ids[count.index]
  description                  = "${var.name}'s migration controller: KV, session, splitter"
  referenced_security_group_id = aws_security_group.controller.id
  ip_protocol                  = "tcp"
  from_port                    = var.consul_https_port
  to_port                      = var.consul_https_port
}

resource "aws_vpc_security_group_egress_rule" "controller_to_consul_cidrs" {
  for_each = toset(var.consul_cidrs)

  security_group_id = aws_security_group.controller.id
  description       = "Consul's HTTP API over TLS, on servers in ${each.key}"
  cidr_ipv4         = each.key
  ip_protocol       = "tcp"
  from_port         = var.consul_https_port
  to_port           = var.consul_https_port
}

resource "aws_vpc_security_group_egress_rule" "controller_https" {
  security_group_id = aws_security_group.controller.id
  description       = "Image, Secrets Manager, CloudWatch Logs and webhooks, through the NAT gateway"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# What ECS needs to start the task: its log streams, the Consul token and
# Consul's CA. The task itself calls no AWS API: it has no task role.
data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:*:*:log-group:${var.log_group_name}:*"]
  }

  statement {
    sid       = "ConsulTokenAndCA"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.consul_token_secret_arn, var.consul_ca_cert_secret_arn]
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-migration-controller-execution"
  description        = "${var.name} migration controller task: its logs, its Consul token and Consul's CA"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-migration-controller-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_ecs_task_definition" "controller" {
  family                   = "${var.name}-migration-controller"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  execution_role_arn       = aws_iam_role.execution.arn
  tags                     = var.tags

  # Where the CA is written for the controller: the task's own storage,
  # gone with it.
  volume {
    name = "consul-ca"
  }

  container_definitions = jsonencode([
    # The controller's image is FROM scratch, with no shell: a container
    # that has one writes Consul's CA (a secret, so an environment variable)
    # to the file CONSUL_CACERT names, and exits.
    {
      name                   = "consul-ca"
      image                  = var.ca_writer_image
      essential              = false
      readonlyRootFilesystem = true
      entryPoint             = ["/bin/sh", "-ec"]
      command                = ["printf '%s\\n' \"$CONSUL_CACERT_PEM\" > ${local.ca_file}"]
      secrets                = [{ name = "CONSUL_CACERT_PEM", valueFrom = var.consul_ca_cert_secret_arn }]
      mountPoints            = [{ sourceVolume = "consul-ca", containerPath = local.ca_dir, readOnly = false }]
      logConfiguration       = { logDriver = "awslogs", options = merge(local.log_options, { awslogs-stream-prefix = "migration-controller-ca" }) }
    },
    {
      name                   = "controller"
      image                  = var.image
      essential              = true
      readonlyRootFilesystem = true
      command                = ["controller"]
      portMappings           = [{ containerPort = var.port, hostPort = var.port, protocol = "tcp" }]
      environment            = [for k in sort(keys(local.environment)) : { name = k, value = local.environment[k] }]
      secrets                = [for k in sort(keys(local.secrets)) : { name = k, valueFrom = local.secrets[k] }]
      mountPoints            = [{ sourceVolume = "consul-ca", containerPath = local.ca_dir, readOnly = true }]
      dependsOn              = [{ containerName = "consul-ca", condition = "SUCCESS" }]
      # No shell in the image: the binary asks its own /health (a standby
      # answers too), and ECS replaces a task that stops answering.
      healthCheck = {
        command     = ["CMD", "/service", "healthcheck"]
        interval    = 10
        timeout     = 5
        retries     = 3
        startPeriod = 10
      }
      # Time to release the lock and destroy its session on SIGTERM, so the
      # other task takes over without waiting out the session's TTL.
      stopTimeout      = 30
      logConfiguration = { logDriver = "awslogs", options = merge(local.log_options, { awslogs-stream-prefix = "migration-controller" }) }
    },
  ])
}

# migration-controller.<namespace>: one A record per running task, which
# Prometheus's dns_sd_configs reads (Consul's catalog does not list the
# controller: it is no mesh task).
resource "aws_service_discovery_service" "controller" {
  name = "migration-controller"
  tags = var.tags

  dns_config {
    namespace_id   = var.service_discovery_namespace.id
    routing_policy = "MULTIVALUE"

    dns_records {
      ttl  = 10
      type = "A"
    }
  }
}

resource "aws_ecs_service" "controller" {
  name            = "${var.name}-migration-controller"
  cluster         = var.cluster_arn
  task_definition = aws_ecs_task_definition.controller.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"

  network_configuration {
    subnets         = var.subnet_ids
    security_groups = [aws_security_group.controller.id]
  }

  service_registries {
    registry_arn = aws_service_discovery_service.controller.arn
  }
}

# A Prometheus beside the mesh, so that the PromQL and `split migrate`'s
# metrics judge that run on the local stack run against AWS too. It finds
# its targets in Consul's catalog (consul_sd_configs): every Envoy of the
# mesh on the port proxy-defaults opens (consul/proxy-defaults.hcl), and
# each service's own GET /metrics on its metrics port; tasks outside the
# mesh by DNS (dns_sd_jobs, e.g. Cloud Map names). Its HTTP API and UI are a
# listener of the ingress ALB on their own port, which admits ingress_cidrs
# only; inside the VPC, that ALB and the groups other modules admit on its
# port (the migration controller's, through the Cloud Map name) reach it.

locals {
  # The anonymous token reads the catalog: consul-ecs's controller gives it
  # service_prefix and node_prefix read (mesh gateways need that), so
  # Prometheus holds no Consul token. The datacenter is named: without it
  # Prometheus first asks /v1/agent/self, which takes agent:read that token
  # lacks, and retries forever with no target.
  consul_sd = {
    server     = "${var.consul_server}:${var.consul_https_port}"
    datacenter = var.consul_datacenter
    scheme     = "https"
    tls_config = merge(
      { ca_file = "/prometheus/consul-ca.pem" },
      var.consul_tls_server_name == "" ? {} : { server_name = var.consul_tls_server_name },
    )
  }
  # Envoy's Prometheus listener answers /metrics only. Each Envoy is found
  # at its task's address.
  envoy_relabel = [
    {
      source_labels = ["__meta_consul_service_address"]
      target_label  = "__address__"
      replacement   = "$1:${var.envoy_metrics_port}"
    },
    { source_labels = ["__meta_consul_service"], target_label = "consul_service" },
  ]
  # The job envoy is the Envoy that splits greeter's calls (ingress's
  # sidecar), the role the compose stack's one Envoy plays, so the same
  # PromQL reads the same series. The other Envoys (sidecars, gateways) are
  # the job envoy-mesh, their consul_destination_service renamed
  # destination_service: the terminating gateway's greeter-lambda cluster
  # would otherwise be counted again beside ingress's.
  envoy_jobs = [
    {
      job_name          = "envoy"
      metrics_path      = "/metrics"
      consul_sd_configs = [merge(local.consul_sd, { services = [var.split_envoy_service] })]
      relabel_configs   = local.envoy_relabel
    },
    {
      job_name          = "envoy-mesh"
      metrics_path      = "/metrics"
      consul_sd_configs = [merge(local.consul_sd, { services = var.envoy_services })]
      relabel_configs   = local.envoy_relabel
      metric_relabel_configs = [
        { source_labels = ["consul_destination_service"], regex = "(.+)", target_label = "destination_service" },
        { regex = "consul_destination_service", action = "labeldrop" },
      ]
    },
  ]
  # Each service as a job of its name, as in the compose stack; Consul holds
  # the app's address, where it serves GET /metrics on the metrics port (its
  # serving port answers the payload only).
  service_jobs = [for service in sort(var.services) : {
    job_name          = service
    metrics_path      = "/metrics"
    consul_sd_configs = [merge(local.consul_sd, { services = [service] })]
    relabel_configs = [{
      source_labels = ["__meta_consul_service_address"]
      target_label  = "__address__"
      replacement   = "$1:${var.metrics_port}"
    }]
  }]
  # Tasks Consul's catalog does not list, found by their DNS A records.
  dns_jobs = [for job in sort(keys(var.dns_sd_jobs)) : {
    job_name        = job
    metrics_path    = "/metrics"
    dns_sd_configs  = [{ names = var.dns_sd_jobs[job].names, type = "A", port = var.dns_sd_jobs[job].port, refresh_interval = "10s" }]
    relabel_configs = [{ source_labels = ["__meta_dns_name"], target_label = "dns_name" }]
  }]
  # The compose stack's rules file, this repository's prometheus/rules.yml,
  # read from there (one file, not a copy): the split's recording rules and
  # the migration controller's alerts, on ECS as locally. Written beside
  # the config at start.
  rules_yml = file("${path.module}/../../../prometheus/rules.yml")
  config = {
    global     = { scrape_interval = var.scrape_interval, evaluation_interval = var.scrape_interval }
    rule_files = ["/prometheus/rules.yml"]
    scrape_configs = concat(
      [{ job_name = "prometheus", static_configs = [{ targets = ["localhost:${local.port}"] }] }],
      local.envoy_jobs,
      local.service_jobs,
      local.dns_jobs,
    )
  }
  config_yaml = yamlencode(local.config)
  port        = 9090
  # The image's own user owns /prometheus, its working directory: the
  # config, the rules and Consul's CA are written there at start, from the
  # environment.
  start = join(" && ", [
    "printf '%s' \"$PROMETHEUS_YML\" > /prometheus/prometheus.yml",
    "printf '%s' \"$RULES_YML\" > /prometheus/rules.yml",
    "printf '%s' \"$CONSUL_CA_PEM\" > /prometheus/consul-ca.pem",
    "exec /bin/prometheus --config.file=/prometheus/prometheus.yml --storage.tsdb.path=/prometheus --storage.tsdb.retention.time=${var.retention} --web.listen-address=:${local.port}",
  ])
}

resource "aws_security_group" "prometheus" {
  name        = "${var.name}-prometheus"
  description = "${var.name} Prometheus: in from its load balancer, out to its targets and Consul"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "prometheus_from_lb" {
  security_group_id            = aws_security_group.prometheus.id
  description                  = "Prometheus's API and UI, through the load balancer"
  referenced_security_group_id = var.load_balancer_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_vpc_security_group_egress_rule" "prometheus_out" {
  for_each = toset([for p in distinct([var.envoy_metrics_port, var.metrics_port]) : tostring(p)])

  security_group_id            = aws_security_group.prometheus.id
  description                  = "Scrapes the mesh tasks on ${each.key}"
  referenced_security_group_id = var.target_security_group_id
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
}

resource "aws_vpc_security_group_ingress_rule" "targets_from_prometheus" {
  for_each = aws_vpc_security_group_egress_rule.prometheus_out

  security_group_id            = var.target_security_group_id
  description                  = "Scraped by ${var.name}'s Prometheus on ${each.key}"
  referenced_security_group_id = aws_security_group.prometheus.id
  ip_protocol                  = "tcp"
  from_port                    = each.value.from_port
  to_port                      = each.value.to_port
}

# Consul's servers by their group (the dev server, in this VPC) or by the
# blocks they are in (servers of your own, beyond it).
resource "aws_vpc_security_group_egress_rule" "prometheus_to_consul" {
  count = length(var.consul_server_security_group_ids)

  security_group_id            = aws_security_group.prometheus.id
  description                  = "Consul's catalog over HTTPS"
  referenced_security_group_id = var.consul_server_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = var.consul_https_port
  to_port                      = var.consul_https_port
}

resource "aws_vpc_security_group_egress_rule" "prometheus_to_consul_cidrs" {
  for_each = toset(var.consul_cidrs)

  security_group_id = aws_security_group.prometheus.id
  description       = "Consul's catalog over HTTPS, on servers in ${each.key}"
  cidr_ipv4         = each.key
  ip_protocol       = "tcp"
  from_port         = var.consul_https_port
  to_port           = var.consul_https_port
}

resource "aws_vpc_security_group_ingress_rule" "consul_from_prometheus" {
  count = length(var.consul_server_security_group_ids)

  security_group_id            = var.consul_server_security_group_ids[count.index]
  description                  = "${var.name}'s Prometheus reads the catalog"
  referenced_security_group_id = aws_security_group.prometheus.id
  ip_protocol                  = "tcp"
  from_port                    = var.consul_https_port
  to_port                      = var.consul_https_port
}

resource "aws_vpc_security_group_egress_rule" "prometheus_image" {
  security_group_id = aws_security_group.prometheus.id
  description       = "The image registry and CloudWatch Logs, through the NAT gateway"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "lb_in" {
  for_each = toset(var.ingress_cidrs)

  security_group_id = var.load_balancer_security_group_id
  description       = "Prometheus from an allowed network"
  cidr_ipv4         = each.key
  ip_protocol       = "tcp"
  from_port         = var.listener_port
  to_port           = var.listener_port
}

resource "aws_vpc_security_group_egress_rule" "lb_to_prometheus" {
  security_group_id            = var.load_balancer_security_group_id
  description                  = "To ${var.name}'s Prometheus and its health check"
  referenced_security_group_id = aws_security_group.prometheus.id
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
}

resource "aws_lb_target_group" "prometheus" {
  # checkov:skip=CKV_AWS_378:traffic from the ALB to the task stays in the VPC; Prometheus serves plain HTTP
  name                 = "${var.name}-prometheus"
  port                 = local.port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 15
  tags                 = var.tags

  health_check {
    path                = "/-/ready"
    matcher             = "200"
    interval            = 10
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "prometheus" {
  # checkov:skip=CKV_AWS_2:HTTP only: a demo has no domain to hold a certificate for; ingress_cidrs alone reach this port
  # checkov:skip=CKV_AWS_103:no TLS on this listener, see CKV_AWS_2
  load_balancer_arn = var.load_balancer_arn
  port              = var.listener_port
  protocol          = "HTTP"
  tags              = var.tags

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.prometheus.arn
  }
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

# What ECS needs to start the task: its log stream and Consul's CA.
data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:*:*:log-group:${var.log_group_name}:*"]
  }

  statement {
    sid       = "ConsulCA"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.consul_ca_cert_secret_arn]
  }
}

data "aws_partition" "current" {}
data "aws_region" "current" {}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-prometheus-execution"
  description        = "${var.name} Prometheus task: its logs and Consul's CA"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-prometheus-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_ecs_task_definition" "prometheus" {
  # checkov:skip=CKV_AWS_336:Prometheus writes its TSDB and its config into the image's /prometheus, owned by the image's user; a Fargate volume there would be root's
  family                   = "${var.name}-prometheus"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 512
  memory                   = 1024
  execution_role_arn       = aws_iam_role.execution.arn
  tags                     = var.tags

  container_definitions = jsonencode([{
    name      = "prometheus"
    image     = var.image
    essential = true
    # The image's user writes its TSDB and the config into /prometheus; a
    # Fargate volume mounted there would be root's.
    readonlyRootFilesystem = false
    entryPoint             = ["/bin/sh", "-c"]
    command                = [local.start]
    portMappings           = [{ containerPort = local.port, hostPort = local.port, protocol = "tcp" }]
    environment = [
      { name = "PROMETHEUS_YML", value = local.config_yaml },
      { name = "RULES_YML", value = local.rules_yml },
    ]
    secrets = [{ name = "CONSUL_CA_PEM", valueFrom = var.consul_ca_cert_secret_arn }]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = "prometheus"
      }
    }
  }])
}

resource "aws_ecs_service" "prometheus" {
  name                              = "${var.name}-prometheus"
  cluster                           = var.cluster_arn
  task_definition                   = aws_ecs_task_definition.prometheus.arn
  desired_count                     = 1
  launch_type                       = "FARGATE"
  propagate_tags                    = "TASK_DEFINITION"
  health_check_grace_period_seconds = 60

  network_configuration {
    subnets         = var.subnet_ids
    security_groups = [aws_security_group.prometheus.id]
  }

  dynamic "service_registries" {
    for_each = aws_service_discovery_service.prometheus
    content {
      registry_arn = service_registries.value.arn
    }
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.prometheus.arn
    container_name   = "prometheus"
    container_port   = local.port
  }

  depends_on = [aws_lb_listener.prometheus]
}

# prometheus.<namespace>: how tasks in the VPC reach the API (the migration
# controller's judge), without the ALB, which admits ingress_cidrs only.
resource "aws_service_discovery_service" "prometheus" {
  count = var.service_discovery_namespace == null ? 0 : 1

  name = "prometheus"
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

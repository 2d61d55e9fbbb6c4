# Step 1 (deploy_ecs_services): the four services as ECS services, each task a
# consul-ecs mesh task (the app, consul-dataplane with Envoy, mesh-init and
# health-sync), and ingress behind the ALB.

module "service" {
  # checkov:skip=CKV_TF_1:a registry module pinned to an exact version; a git commit source would bypass the registry
  source   = "hashicorp/consul-ecs/aws//modules/mesh-task"
  version  = "0.10.0"
  for_each = var.deploy_ecs_services ? local.services : {}

  family                   = "${var.name}-${each.key}"
  consul_service_name      = each.key
  port                     = each.value.port
  requires_compatibilities = ["FARGATE"]
  # Fargate cannot redirect traffic with iptables: the apps call their
  # upstreams at the sidecar's localhost ports instead (module default: true).
  enable_transparent_proxy = false
  upstreams                = [for service, port in each.value.upstreams : { destinationName = service, localBindPort = port }]

  consul_server_hosts    = local.consul.hosts
  skip_server_watch      = local.consul.skip_server_watch
  tls                    = true
  tls_server_name        = local.consul.tls_server_name
  http_config            = local.consul_http_config
  grpc_config            = local.consul_grpc_config
  consul_ca_cert_arn     = local.consul.ca_cert_arn
  acls                   = true
  consul_dataplane_image = var.consul_dataplane_image
  # Without it the module writes an empty logConfiguration, which ECS refuses.
  log_configuration = local.log_configuration[each.key]

  container_definitions = [{
    name                   = each.key
    image                  = "${module.ecr.repository_urls[each.key]}:${var.image_tag}"
    essential              = true
    readonlyRootFilesystem = true
    cpu                    = 0
    mountPoints            = []
    volumesFrom            = []
    # PORT: /health and the payload, which the sidecar (and, for ingress,
    # the ALB) reaches; METRICS_PORT: /metrics, which Prometheus alone reaches.
    portMappings = [for p in [each.value.port, local.metrics_port] : { containerPort = p, hostPort = p, protocol = "tcp" }]
    environment = [
      for k, v in merge({ PORT = tostring(each.value.port), METRICS_PORT = tostring(local.metrics_port), LOG_FORMAT = "json" }, each.value.env) : { name = k, value = v }
    ]
    # The image has no shell: the binary checks its own /health. health-sync
    # copies the result into Consul.
    healthCheck = {
      command     = ["CMD", "/service", "healthcheck"]
      interval    = 10
      timeout     = 5
      retries     = 3
      startPeriod = 10
    }
    logConfiguration = local.log_configuration[each.key]
  }]
}

resource "aws_ecs_service" "service" {
  for_each = module.service

  name            = "${var.name}-${each.key}"
  cluster         = module.cluster.cluster_arn
  task_definition = each.value.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"
  # The app waits for its sidecar before it starts: give the ALB's health
  # check that long before it counts against ingress.
  health_check_grace_period_seconds = each.key == "ingress" ? 60 : null

  network_configuration {
    subnets         = module.vpc.private_subnets
    security_groups = [module.network.mesh_security_group_id]
  }

  dynamic "load_balancer" {
    for_each = each.key == "ingress" ? module.ingress_alb : []
    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = "ingress"
      container_port   = local.services.ingress.port
    }
  }
}

module "ingress_alb" {
  source = "./modules/ingress-alb"
  count  = var.deploy_ecs_services ? 1 : 0

  name                     = "${var.name}-ingress"
  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.public_subnets
  ingress_cidrs            = var.ingress_cidrs
  target_port              = local.services.ingress.port
  target_security_group_id = module.network.mesh_security_group_id
}

# Beside step 1 (deploy_ecs_services, unless prometheus = false): a Prometheus
# scraping every Envoy (sidecars and gateways, on proxy-defaults' 9102) and
# each service's /metrics (on METRICS_PORT), found in Consul's catalog, and
# the migration controller's, found in Cloud Map; its UI and API on the
# ingress ALB's port 9090, from ingress_cidrs only, and at
# prometheus.NAME.internal:9090 for the migration controller.
module "prometheus" {
  source = "./modules/prometheus"
  count  = var.deploy_ecs_services && var.prometheus ? 1 : 0

  name                             = var.name
  vpc_id                           = module.vpc.vpc_id
  subnet_ids                       = module.vpc.private_subnets
  cluster_arn                      = module.cluster.cluster_arn
  log_group_name                   = module.cluster.log_group_name
  image                            = var.prometheus_image
  consul_server                    = local.consul.hosts
  consul_https_port                = local.consul.https_port
  consul_datacenter                = local.consul.datacenter
  consul_tls_server_name           = local.consul.tls_server_name
  consul_server_security_group_ids = local.consul.security_group_ids
  consul_cidrs                     = local.consul.cidrs
  consul_ca_cert_secret_arn        = local.consul.ca_cert_arn
  target_security_group_id         = module.network.mesh_security_group_id
  # consul-ecs registers each sidecar as <service>-sidecar-proxy; the
  # gateways under their Consul names (lambda.tf). ingress's sidecar splits
  # greeter's calls: it is the job envoy, the others envoy-mesh.
  split_envoy_service = "ingress-sidecar-proxy"
  envoy_services      = concat([for s in keys(local.services) : "${s}-sidecar-proxy" if s != "ingress"], ["terminating-gateway", "${var.name}-mesh-gateway"])
  services            = keys(local.services)
  metrics_port        = local.metrics_port
  # The migration controller is no mesh task: Consul's catalog does not
  # list it, Cloud Map does (controller.tf). Before step 4 the name does not
  # resolve, which Prometheus reads as no target: the job is there from the
  # start, so step 4 does not restart Prometheus (and lose its samples).
  dns_sd_jobs = var.migration_controller ? {
    migration-controller = { names = [local.controller_dns_name], port = local.controller_port }
  } : {}
  service_discovery_namespace     = { id = local.tasks_namespace_id, name = local.tasks_namespace }
  load_balancer_arn               = module.ingress_alb[0].arn
  load_balancer_dns_name          = module.ingress_alb[0].dns_name
  load_balancer_security_group_id = module.ingress_alb[0].security_group_id
  ingress_cidrs                   = var.ingress_cidrs
}

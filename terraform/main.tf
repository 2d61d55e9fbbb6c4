# What every step stands on: the VPC, the ECS cluster and its log group, the
# ECR repositories, the mesh's security groups, the Consul servers (the dev
# server, or your own: consul_servers) and the ACL controller.
# `terraform apply` with every switch off creates these, so the images can be
# pushed before step 1 runs them.

locals {
  # The four services, what each listens on and the upstreams it calls
  # through its sidecar at localhost:PORT (as SYSTEM.md's call graph).
  services = {
    name     = { port = 3000, upstreams = {}, env = {} }
    greeting = { port = 3000, upstreams = {}, env = {} }
    greeter = {
      port      = 3000
      upstreams = { name = 3001, greeting = 3002 }
      env       = { NAME_URL = "http://localhost:3001", GREETING_URL = "http://localhost:3002" }
    }
    ingress = {
      port      = 8080
      upstreams = { greeter = 3001 }
      env       = { GREETER_URL = "http://localhost:3001" }
    }
  }

  # Every service serves GET /metrics on a listener of its own
  # (METRICS_PORT), which only Prometheus reaches; its serving port (PORT)
  # answers /health and the payload only, and is all the ALB forwards to.
  metrics_port = 9464

  registrator_repository = "consul-lambda-registrator"
  # The migration controller's image: the split binary (REGISTRY/NAME/split).
  split_repository      = "split"
  extension_data_prefix = "/${var.name}"

  # Every container logs to the cluster's log group, under its task's prefix.
  log_configuration = {
    for task in concat(keys(local.services), ["consul-server", "controller", "mesh-gateway", "terminating-gateway", "migration-controller"]) : task => {
      logDriver = "awslogs"
      options = {
        awslogs-group         = module.cluster.log_group_name
        awslogs-region        = var.region
        awslogs-stream-prefix = task
      }
    }
  }
}

data "aws_availability_zones" "available" {
  # checkov:skip=CKV_AWS_394:the VPC takes the first three zones of a sorted list; a zone AWS adds later does not move them
  state = "available"
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

module "vpc" {
  # checkov:skip=CKV_TF_1:a registry module pinned to an exact version; a git commit source would bypass the registry
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.21.0"

  name = var.name
  cidr = var.vpc_cidr
  azs  = slice(data.aws_availability_zones.available.names, 0, 3)
  # Three /20s for tasks and Lambdas, three for the load balancers.
  private_subnets = [for i in range(3) : cidrsubnet(var.vpc_cidr, 20 - tonumber(split("/", var.vpc_cidr)[1]), i)]
  public_subnets  = [for i in range(3) : cidrsubnet(var.vpc_cidr, 20 - tonumber(split("/", var.vpc_cidr)[1]), i + 8)]

  # One NAT gateway: the tasks pull public images and greeter-lambda's
  # extension reaches Parameter Store through it (the mesh gateway's load
  # balancer is internal). One is cheaper than one per zone; a zone outage
  # would cut the demo off, not lose data.
  enable_nat_gateway   = true
  single_nat_gateway   = true
  enable_dns_hostnames = true
}

module "cluster" {
  source = "./modules/cluster"

  name = var.name
}

module "ecr" {
  source = "./modules/ecr"

  repositories = concat(keys(local.services), [local.registrator_repository, local.split_repository])
  prefix       = var.name
}

module "network" {
  source = "./modules/mesh-network"

  name   = var.name
  vpc_id = module.vpc.vpc_id
  # The dev server's group admits the mesh; your own servers' must admit
  # this VPC's CIDR (docs/aws.md).
  consul_server_security_group_ids = local.consul.security_group_ids
}

# The Consul servers every part of the mesh talks to, whichever they are:
# mesh and gateway tasks, consul-ecs's controller, the Lambda registrator,
# Prometheus and the migration controller all read them from here.
locals {
  existing_consul = var.consul_servers == "existing"
  # consul-ecs's dev server names its datacenter dc1 unless told otherwise.
  dev_datacenter = "dc1"
  # The node the migration controller's session binds to: the dev server's
  # own, named here (consul-ecs names it after the module's `name` otherwise).
  dev_node_name = "consul-server"

  consul = local.existing_consul ? {
    hosts             = var.existing_consul.hosts
    datacenter        = var.existing_consul.datacenter
    https_port        = var.existing_consul.https_port
    grpc_port         = var.existing_consul.grpc_port
    tls_server_name   = var.existing_consul.tls_server_name
    skip_server_watch = var.existing_consul.skip_server_watch
    ca_cert_arn       = var.existing_consul.ca_cert_secret_arn
    # consul-ecs's controller: acl:write, it makes every task's token.
    management_token_arn  = var.existing_consul.management_token_secret_arn
    registrator_token_arn = coalesce(var.existing_consul.registrator_token_secret_arn, var.existing_consul.management_token_secret_arn)
    session_node          = var.existing_consul.session_node
    security_group_ids    = []
    cidrs                 = var.existing_consul.cidrs
    } : {
    hosts             = one(module.consul_server[*].server_dns)
    datacenter        = local.dev_datacenter
    https_port        = 8501
    grpc_port         = 8503
    tls_server_name   = ""
    skip_server_watch = false
    ca_cert_arn       = one(module.consul_server[*].ca_cert_arn)
    # The bootstrap token serves both (consul-ecs's examples give it to the controller).
    management_token_arn  = one(module.consul_server[*].bootstrap_token_secret_arn)
    registrator_token_arn = one(module.consul_server[*].bootstrap_token_secret_arn)
    session_node          = local.dev_node_name
    # A list: its length is known before the group exists (count reads it).
    security_group_ids = module.consul_server[*].security_group_id
    cidrs              = []
  }
  consul_https_addr = "https://${local.consul.hosts}:${local.consul.https_port}"
  # What consul-ecs's mesh-task, gateway-task and controller take for ports
  # (their http_config and grpc_config; the dev server's are the defaults).
  consul_http_config = { port = local.consul.https_port }
  consul_grpc_config = { port = local.consul.grpc_port }
}

# consul_servers = "dev-server": one Consul server in a Fargate task,
# consul-ecs's dev-server, which says plainly it is not for production (one
# node, state lost with its task). HCP Consul Dedicated, where the original
# ran its servers, was retired in November 2025. TLS and ACLs are on, as the
# mesh tasks expect. With consul_servers = "existing" there is none: the
# mesh joins your servers (existing_consul).
module "consul_server" {
  # checkov:skip=CKV_TF_1:a registry module pinned to an exact version; a git commit source would bypass the registry
  source  = "hashicorp/consul-ecs/aws//modules/dev-server"
  version = "0.10.0"
  count   = local.existing_consul ? 0 : 1

  name       = "${var.name}-consul"
  datacenter = local.dev_datacenter
  node_name  = local.dev_node_name
  # Its Cloud Map namespace is the copy's (below), not the datacenter's: one
  # private namespace per VPC, whose name carries the copy's.
  service_discovery_namespace = local.tasks_namespace
  ecs_cluster_arn             = module.cluster.cluster_arn
  launch_type                 = "FARGATE"
  requires_compatibilities    = ["FARGATE"]
  vpc_id                      = module.vpc.vpc_id
  subnet_ids                  = module.vpc.private_subnets
  consul_image                = var.consul_image
  tls                         = true
  acls                        = true
  log_configuration           = local.log_configuration["consul-server"]

  # The UI and HTTP API for `consul config write` and `consul catalog`, from ingress_cidrs only.
  lb_enabled                  = true
  lb_subnets                  = module.vpc.public_subnets
  lb_ingress_rule_cidr_blocks = var.ingress_cidrs
}

# Before the switch, the dev server was the only one, without count.
moved {
  from = module.consul_server
  to   = module.consul_server[0]
}

# Creates the IAM auth method and the tokens each mesh task logs in with, and
# removes them as tasks stop.
module "acl_controller" {
  # checkov:skip=CKV_TF_1:a registry module pinned to an exact version; a git commit source would bypass the registry
  source  = "hashicorp/consul-ecs/aws//modules/controller"
  version = "0.10.0"

  name_prefix                       = var.name
  region                            = var.region
  ecs_cluster_arn                   = module.cluster.cluster_arn
  launch_type                       = "FARGATE"
  subnets                           = module.vpc.private_subnets
  security_groups                   = [module.network.mesh_security_group_id]
  consul_server_hosts               = local.consul.hosts
  skip_server_watch                 = local.consul.skip_server_watch
  consul_bootstrap_token_secret_arn = local.consul.management_token_arn
  consul_ca_cert_arn                = local.consul.ca_cert_arn
  tls                               = true
  tls_server_name                   = local.consul.tls_server_name
  http_config                       = local.consul_http_config
  grpc_config                       = local.consul_grpc_config
  log_configuration                 = local.log_configuration["controller"]
}

# The copy's private DNS namespace, NAME.internal, in its VPC only: the dev
# server's name (NAME-consul.NAME.internal), and the two tasks outside the
# mesh, which Consul's catalog does not list: prometheus.NAME.internal (the
# migration controller's judge) and migration-controller.NAME.internal
# (which Prometheus scrapes). The dev-server module makes it and outputs no
# ID, so it is read back by its name; with your own Consul it is made here.
locals {
  tasks_namespace = "${var.name}.internal"
}

resource "aws_service_discovery_private_dns_namespace" "tasks" {
  count = local.existing_consul ? 1 : 0

  name        = local.tasks_namespace
  description = "${var.name}: Prometheus and the migration controller"
  vpc         = module.vpc.vpc_id
}

# Read once the dev server's namespace exists: server_dns names its service
# in it. depends_on the module itself would defer the read to every apply in
# which anything of the dev server changes, and the IDs read then would
# replace the Cloud Map services registered in it.
resource "terraform_data" "dev_server_namespace" {
  count = local.existing_consul ? 0 : 1

  input = { server_dns = module.consul_server[0].server_dns }
}

data "aws_service_discovery_dns_namespace" "dev_server" {
  count = local.existing_consul ? 0 : 1

  name       = local.tasks_namespace
  type       = "DNS_PRIVATE"
  depends_on = [terraform_data.dev_server_namespace]
}

locals {
  tasks_namespace_id = one(concat(aws_service_discovery_private_dns_namespace.tasks[*].id, data.aws_service_discovery_dns_namespace.dev_server[*].id))
}

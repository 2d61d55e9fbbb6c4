# What every step stands on: the VPC, the ECS cluster and its log group, the
# ECR repositories, the mesh's security groups, a Consul server and the ACL
# controller. `terraform apply` with every switch off creates these, so the
# images can be pushed before step 1 runs them.

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

  registrator_repository = "consul-lambda-registrator"
  extension_data_prefix  = "/${var.name}"

  # Every container logs to the cluster's log group, under its task's prefix.
  log_configuration = {
    for task in concat(keys(local.services), ["consul-server", "controller", "mesh-gateway", "terminating-gateway"]) : task => {
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

  repositories = concat(keys(local.services), [local.registrator_repository])
  prefix       = var.name
}

module "network" {
  source = "./modules/mesh-network"

  name                            = var.name
  vpc_id                          = module.vpc.vpc_id
  consul_server_security_group_id = module.consul_server.security_group_id
}

# One Consul server in a Fargate task: consul-ecs's dev-server, which says
# plainly it is not for production (one node, state lost with its task). HCP
# Consul Dedicated, where the original ran its servers, was retired in
# November 2025. TLS and ACLs are on, as the mesh tasks expect.
module "consul_server" {
  # checkov:skip=CKV_TF_1:a registry module pinned to an exact version; a git commit source would bypass the registry
  source  = "hashicorp/consul-ecs/aws//modules/dev-server"
  version = "0.10.0"

  name                     = "${var.name}-consul"
  ecs_cluster_arn          = module.cluster.cluster_arn
  launch_type              = "FARGATE"
  requires_compatibilities = ["FARGATE"]
  vpc_id                   = module.vpc.vpc_id
  subnet_ids               = module.vpc.private_subnets
  consul_image             = var.consul_image
  tls                      = true
  acls                     = true
  log_configuration        = local.log_configuration["consul-server"]

  # The UI and HTTP API for `consul config write` and `consul catalog`, from ingress_cidrs only.
  lb_enabled                  = true
  lb_subnets                  = module.vpc.public_subnets
  lb_ingress_rule_cidr_blocks = var.ingress_cidrs
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
  consul_server_hosts               = module.consul_server.server_dns
  consul_bootstrap_token_secret_arn = module.consul_server.bootstrap_token_secret_arn
  consul_ca_cert_arn                = module.consul_server.ca_cert_arn
  tls                               = true
  log_configuration                 = local.log_configuration["controller"]
}

variable "region" {
  description = "AWS region to deploy into, e.g. us-east-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as us-east-1 or eu-west-2."
  }
}

variable "name" {
  description = "Prefix of every resource's name but greeter-lambda's function, whose name is its Consul service's: two copies run in one account in two regions, or in one region up to step 2."
  type        = string
  default     = "greeter"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,10}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 12 lower-case letters, digits or -, starting with a letter (load balancer names built from it hold 32 characters)."
  }
}

variable "ingress_cidrs" {
  description = "The IPv4 CIDR blocks allowed to reach the ingress ALB, Prometheus (the ALB's port 9090) and, with the dev server, Consul's UI and API, e.g. [\"203.0.113.7/32\"] for your own address."
  type        = list(string)

  validation {
    condition     = length(var.ingress_cidrs) > 0 && alltrue([for c in var.ingress_cidrs : can(cidrnetmask(c))])
    error_message = "ingress_cidrs must hold at least one IPv4 CIDR block such as 203.0.113.7/32 (your address: curl -s checkip.amazonaws.com)."
  }

  validation {
    condition     = !contains(var.ingress_cidrs, "0.0.0.0/0")
    error_message = "ingress_cidrs must not be 0.0.0.0/0: it also opens Consul's HTTP API, whose token would cross the internet in the clear."
  }
}

variable "vpc_cidr" {
  description = "The VPC's IPv4 CIDR block; three private and three public /20 subnets are cut from it."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.vpc_cidr)) && tonumber(split("/", var.vpc_cidr)[1]) <= 18
    error_message = "vpc_cidr must be an IPv4 CIDR block of /18 or larger, such as 10.0.0.0/16."
  }
}

variable "image_tag" {
  description = "The tag of the four service images scripts/push-ecr pushed: latest, or a commit's 12-character tag."
  type        = string
  default     = "latest"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a Docker tag: letters, digits, _ . -, up to 128 characters."
  }
}

variable "consul_servers" {
  description = "Where the mesh's Consul servers come from: dev-server (the default: one Fargate task this configuration runs, whose state goes with it, for a one-command demo) or existing (servers your team already runs, Consul 1.20 or later including 2.x, described in existing_consul)."
  type        = string
  default     = "dev-server"

  validation {
    condition     = contains(["dev-server", "existing"], var.consul_servers)
    error_message = "consul_servers must be dev-server or existing."
  }
}

variable "existing_consul" {
  description = <<-EOT
    With consul_servers = "existing": the Consul servers your team runs, which this copy's VPC must reach (peering or a transit gateway; the servers must also reach AWS STS for the IAM auth method). One Consul datacenter per copy: two copies in one datacenter would register the same services.
    hosts: the servers' DNS name or IP address (no scheme, no port; not an exec= string, which Prometheus, the registrator and the migration controller cannot read). datacenter: their datacenter. cidrs: the IPv4 blocks the servers are in, outside vpc_cidr (the tasks' security groups go out to them).
    ca_cert_secret_arn: a Secrets Manager secret holding the CA (PEM) that signs the servers' HTTPS and gRPC certificates. management_token_secret_arn: a secret holding a token for consul-ecs's controller (acl:write, operator:write, node:write: it creates the IAM auth method and the tasks' tokens). registrator_token_secret_arn: the Lambda registrator's token (default: the management token). Every secret a full ARN in this region, its value the bare string, encrypted with the aws/secretsmanager key.
    session_node: the node the migration controller's session binds to (CONSUL_SESSION_NODE), a node that stays registered, such as a server's. https_port, grpc_port: the servers' HTTPS and gRPC-TLS ports (8501, 8503). tls_server_name: the name their certificates carry if hosts is not in them (e.g. server.dc1.consul; the Lambda registrator cannot be given one, so hosts must be in the certificate for it). skip_server_watch: true if hosts is a load balancer in front of the servers.
  EOT
  type = object({
    hosts                        = string
    datacenter                   = string
    cidrs                        = list(string)
    ca_cert_secret_arn           = string
    management_token_secret_arn  = string
    registrator_token_secret_arn = optional(string)
    session_node                 = string
    https_port                   = optional(number, 8501)
    grpc_port                    = optional(number, 8503)
    tls_server_name              = optional(string, "")
    skip_server_watch            = optional(bool, false)
  })
  default = null

  # Terraform evaluates both sides of ||: can() and try() keep a null
  # existing_consul from failing the checks that read its fields.
  validation {
    condition     = (var.consul_servers == "existing") == (var.existing_consul != null)
    error_message = "existing_consul goes with consul_servers = \"existing\", and only with it: set both (a Consul of your own) or neither (the dev server)."
  }

  validation {
    condition     = var.existing_consul == null || can(regex("^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", var.existing_consul.hosts))
    error_message = "existing_consul.hosts must be one DNS name or IP address, without scheme or port, e.g. consul.internal.example.com (the ports are https_port and grpc_port)."
  }

  validation {
    condition     = var.existing_consul == null || can(regex("^[A-Za-z0-9_-]{1,64}$", var.existing_consul.datacenter))
    error_message = "existing_consul.datacenter must be a Consul datacenter name such as dc1: letters, digits, - and _."
  }

  validation {
    condition = var.existing_consul == null || try(length(var.existing_consul.cidrs) > 0 && alltrue([
      for c in var.existing_consul.cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"
    ]), false)
    error_message = "existing_consul.cidrs must hold the IPv4 CIDR blocks the Consul servers are in, e.g. [\"10.20.0.0/24\"], not 0.0.0.0/0."
  }

  validation {
    # Two blocks overlap when the wider one holds the other's first address.
    condition = var.existing_consul == null || try(alltrue([
      for c in var.existing_consul.cidrs : !(
        cidrhost("${split("/", c)[0]}/${min(tonumber(split("/", c)[1]), tonumber(split("/", var.vpc_cidr)[1]))}", 0) ==
        cidrhost("${split("/", var.vpc_cidr)[0]}/${min(tonumber(split("/", c)[1]), tonumber(split("/", var.vpc_cidr)[1]))}", 0)
      )
    ]), false)
    error_message = "existing_consul.cidrs must not overlap vpc_cidr: the servers' network and this copy's VPC are joined by routing (peering refuses overlapping blocks). Choose another vpc_cidr."
  }

  validation {
    condition = var.existing_consul == null || try(alltrue([
      for arn in compact([var.existing_consul.ca_cert_secret_arn, var.existing_consul.management_token_secret_arn, var.existing_consul.registrator_token_secret_arn]) :
      can(regex("^arn:aws[a-z-]*:secretsmanager:${var.region}:[0-9]{12}:secret:.+-[A-Za-z0-9]{6}$", arn))
    ]), false)
    error_message = "existing_consul's *_secret_arn must be full Secrets Manager ARNs in this region, as aws secretsmanager describe-secret prints them (ending in -XXXXXX): ECS, IAM and Parameter Store's /aws/reference/secretsmanager/ path all read them."
  }

  validation {
    condition     = var.existing_consul == null || can(regex("^[A-Za-z0-9]([A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$", var.existing_consul.session_node))
    error_message = "existing_consul.session_node must name a Consul node that stays registered (a server's, as consul members lists it)."
  }

  validation {
    condition = var.existing_consul == null || try(alltrue([
      for p in [var.existing_consul.https_port, var.existing_consul.grpc_port] : p > 0 && p < 65536 && floor(p) == p
    ]) && var.existing_consul.https_port != var.existing_consul.grpc_port, false)
    error_message = "existing_consul.https_port and grpc_port must be two different TCP ports (Consul's defaults: 8501 and 8503)."
  }
}

variable "consul_image" {
  description = "The dev server's Consul image (consul_servers = dev-server); the migration controller's task also uses it, for its shell, to write Consul's CA where the controller reads it."
  type        = string
  default     = "public.ecr.aws/hashicorp/consul:1.22.2"

  validation {
    # dev-server parses the image's version and reads 2.x as older than 1.14 (its TLS ports then go wrong).
    condition     = can(regex(":1\\.(2[0-2])\\.[0-9]+$", var.consul_image))
    error_message = "consul_image must be a Consul 1.20 to 1.22 image with its full version, e.g. public.ecr.aws/hashicorp/consul:1.22.2: consul-ecs 0.10.0's dev server reads 2.x as older than 1.14. For Consul 2.x, run it yourself: consul_servers = \"existing\" (see the README)."
  }
}

variable "consul_dataplane_image" {
  description = "The consul-dataplane image of every mesh and gateway task; its version goes with Consul's (1.9 with 1.22; with an existing Consul 2.0, the 2.0 line, e.g. public.ecr.aws/hashicorp/consul-dataplane:2.0.1)."
  type        = string
  default     = "public.ecr.aws/hashicorp/consul-dataplane:1.9.2"

  validation {
    condition     = can(regex(":[0-9]+\\.[0-9]+\\.[0-9]+$", var.consul_dataplane_image))
    error_message = "consul_dataplane_image must name a full version, e.g. public.ecr.aws/hashicorp/consul-dataplane:1.9.2."
  }
}

variable "registrator_version" {
  description = "The consul-lambda-registrator image version scripts/copy-registrator-image copied into ECR."
  type        = string
  default     = "0.1.0-beta5"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+(-[a-z0-9.]+)?$", var.registrator_version))
    error_message = "registrator_version must be a version such as 0.1.0-beta5."
  }
}

variable "consul_lambda_extension_zip" {
  description = "The consul-lambda-extension zip (arm64) scripts/fetch-lambda-extension downloaded, relative to this folder."
  type        = string
  default     = "consul-lambda-extension.zip"
}

variable "consul_lambda_extension_version" {
  description = "The version of that zip, recorded on the layer."
  type        = string
  default     = "0.1.0-beta5"
}

variable "deploy_ecs_services" {
  description = "Step 1: ingress, greeter, greeting and name as ECS services in the mesh, ingress behind the ALB."
  type        = bool
  default     = false
}

variable "prometheus" {
  description = "With step 1: a Prometheus beside the mesh (every Envoy and service scraped), its UI and API on the ingress ALB's port 9090 from ingress_cidrs only, for the metrics judge of split migrate."
  type        = bool
  default     = true
}

variable "prometheus_image" {
  description = "The Prometheus image: the official one, pinned to a full version."
  type        = string
  default     = "quay.io/prometheus/prometheus:v3.5.0"

  validation {
    condition     = can(regex(":v[0-9]+\\.[0-9]+\\.[0-9]+$", var.prometheus_image))
    error_message = "prometheus_image must name a full Prometheus version, e.g. quay.io/prometheus/prometheus:v3.5.0."
  }
}

variable "deploy_consul_lambda" {
  description = "Step 2: the Consul Lambda registrator, the mesh gateway and the terminating gateway."
  type        = bool
  default     = false

  validation {
    condition     = !var.deploy_consul_lambda || var.deploy_ecs_services
    error_message = "deploy_consul_lambda needs deploy_ecs_services: the steps go in order."
  }
}

variable "deploy_lambda" {
  description = "Step 3: what greeter-lambda needs (role, extension layer, subnets, security group); scripts/deploy-lambda then deploys it."
  type        = bool
  default     = false

  validation {
    condition     = !var.deploy_lambda || var.deploy_consul_lambda
    error_message = "deploy_lambda needs deploy_consul_lambda: the steps go in order."
  }

  validation {
    condition     = !var.deploy_lambda || fileexists(var.consul_lambda_extension_zip)
    error_message = "deploy_lambda needs the consul-lambda-extension zip: run ./scripts/fetch-lambda-extension, which downloads it here and checks its SHA-256."
  }
}

variable "migrate_to_lambda" {
  description = "Step 4: the terminating gateway may invoke greeter-lambda, so the split can send it traffic."
  type        = bool
  default     = false

  validation {
    condition     = !var.migrate_to_lambda || var.deploy_lambda
    error_message = "migrate_to_lambda needs deploy_lambda: the steps go in order."
  }
}

variable "migration_controller" {
  description = "With step 4 (migrate_to_lambda): the migration controller (split controller), 2 Fargate tasks driving the migration from Consul's KV, judged by Prometheus, so that split rollout can start, pause, approve and abort it from anywhere. Its Consul token's secret is made from step 0 on, so the token can be created before the tasks start. false: migrate from one terminal with split migrate."
  type        = bool
  default     = true

  validation {
    condition     = !var.migration_controller || !var.migrate_to_lambda || var.prometheus
    error_message = "migration_controller needs prometheus: the controller judges each step on the mesh's metrics there. Set prometheus = true, or migration_controller = false to migrate with split migrate."
  }
}

variable "migration_controller_count" {
  description = "How many migration controller tasks run: one leads (Consul session lock), the others wait to take over."
  type        = number
  default     = 2

  validation {
    condition     = var.migration_controller_count >= 1 && var.migration_controller_count <= 5 && floor(var.migration_controller_count) == var.migration_controller_count
    error_message = "migration_controller_count must be a whole number from 1 to 5 (2: one leads, one takes over when it is lost)."
  }
}

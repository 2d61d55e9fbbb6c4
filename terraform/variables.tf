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
  description = "The IPv4 CIDR blocks allowed to reach the ingress ALB, Prometheus (the ALB's port 9090) and Consul's UI and API, e.g. [\"203.0.113.7/32\"] for your own address."
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

variable "consul_image" {
  description = "The Consul server image."
  type        = string
  default     = "public.ecr.aws/hashicorp/consul:1.22.2"

  validation {
    # dev-server parses the image's version and reads 2.x as older than 1.14 (its TLS ports then go wrong).
    condition     = can(regex(":1\\.(2[0-2])\\.[0-9]+$", var.consul_image))
    error_message = "consul_image must be a Consul 1.20 to 1.22 image with its full version, e.g. public.ecr.aws/hashicorp/consul:1.22.2 (see the README for why not 2.x)."
  }
}

variable "consul_dataplane_image" {
  description = "The consul-dataplane image of every mesh and gateway task; its minor version goes with Consul's (1.9 with 1.22)."
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

variable "name" {
  description = "Prefix of every name: the task family, service, security group, role, target group."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,17}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 19 lower-case letters, digits or -, starting with a letter (a target group's name holds 32 characters, and -prometheus is added)."
  }
}

variable "vpc_id" {
  description = "The VPC of the task and the load balancer."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the task (it reaches its image through the NAT gateway)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be subnet IDs (subnet-...)."
  }
}

variable "cluster_arn" {
  description = "The ECS cluster the task runs in."
  type        = string
}

variable "log_group_name" {
  description = "The cluster's log group; the task writes under the prefix prometheus."
  type        = string
}

variable "image" {
  description = "The Prometheus image, the official one pinned to a full version."
  type        = string
  default     = "quay.io/prometheus/prometheus:v3.5.0"

  validation {
    condition     = can(regex(":v[0-9]+\\.[0-9]+\\.[0-9]+$", var.image))
    error_message = "image must name a full Prometheus version, e.g. quay.io/prometheus/prometheus:v3.5.0."
  }
}

variable "consul_server" {
  description = "The Consul server's DNS name, whose catalog lists the targets."
  type        = string
}

variable "consul_https_port" {
  description = "Consul's HTTPS port."
  type        = number
  default     = 8501

  validation {
    condition     = var.consul_https_port > 0 && var.consul_https_port < 65536
    error_message = "consul_https_port must be a TCP port, e.g. 8501."
  }
}

variable "consul_datacenter" {
  description = "Consul's datacenter, named in every consul_sd_config: without it Prometheus asks /v1/agent/self first, which takes agent:read the anonymous token lacks, and finds no target."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.consul_datacenter))
    error_message = "consul_datacenter must be a Consul datacenter name such as dc1."
  }
}

variable "consul_tls_server_name" {
  description = "The name Consul's certificate carries, if consul_server is not in it (e.g. server.dc1.consul); empty: consul_server."
  type        = string
  default     = ""
}

variable "consul_server_security_group_ids" {
  description = "The Consul servers' security group, in this VPC, opened to Prometheus on the HTTPS port (the dev server's): one ID, or none for servers beyond the VPC (consul_cidrs). A list, so that its length is known before the group exists."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.consul_server_security_group_ids) <= 1 && alltrue([for g in var.consul_server_security_group_ids : can(regex("^sg-[0-9a-f]+$", g))])
    error_message = "consul_server_security_group_ids must hold at most one security group ID (sg-...)."
  }

  validation {
    condition     = (length(var.consul_server_security_group_ids) == 0) != (length(var.consul_cidrs) == 0)
    error_message = "Name Consul's servers one way: consul_server_security_group_ids (in this VPC) or consul_cidrs (beyond it)."
  }
}

variable "consul_cidrs" {
  description = "The IPv4 blocks Consul's servers are in, when they are beyond this VPC (servers of your own): Prometheus goes out to them on the HTTPS port. Empty with consul_server_security_group_ids."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.consul_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "consul_cidrs must be IPv4 CIDR blocks such as 10.20.0.0/24, not 0.0.0.0/0."
  }
}

variable "consul_ca_cert_secret_arn" {
  description = "The Secrets Manager secret holding Consul's CA certificate (PEM), which signs its HTTPS."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:", var.consul_ca_cert_secret_arn))
    error_message = "consul_ca_cert_secret_arn must be a Secrets Manager ARN."
  }
}

variable "target_security_group_id" {
  description = "The mesh tasks' security group, opened to Prometheus on the Envoy metrics port and the services' metrics port."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.target_security_group_id))
    error_message = "target_security_group_id must be a security group ID (sg-...)."
  }
}

variable "split_envoy_service" {
  description = "The Consul service of the Envoy that splits greeter's calls (ingress's sidecar), scraped on envoy_metrics_port as the job envoy."
  type        = string
  default     = "ingress-sidecar-proxy"
}

variable "envoy_services" {
  description = "The other Consul services that are Envoys (sidecars, gateways), scraped on envoy_metrics_port as the job envoy-mesh."
  type        = list(string)

  validation {
    condition     = length(var.envoy_services) > 0
    error_message = "envoy_services must name at least one Consul service, e.g. greeter-sidecar-proxy."
  }
}

variable "envoy_metrics_port" {
  description = "Where every Envoy serves /metrics: the port of envoy_prometheus_bind_addr in consul/proxy-defaults.hcl."
  type        = number
  default     = 9102
}

variable "services" {
  description = "The Consul services scraped at GET /metrics on metrics_port, each as a job of its name, e.g. [\"ingress\", \"greeter\"]."
  type        = list(string)

  validation {
    condition     = length(var.services) > 0 && alltrue([for s in var.services : can(regex("^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$", s))])
    error_message = "services must name at least one Consul service, in lower case, e.g. greeter."
  }
}

variable "metrics_port" {
  description = "Where every service serves GET /metrics (METRICS_PORT), a listener apart from the one its callers reach."
  type        = number
  default     = 9464

  validation {
    condition     = var.metrics_port > 0 && var.metrics_port < 65536
    error_message = "metrics_port must be a TCP port, e.g. 9464."
  }
}

variable "dns_sd_jobs" {
  description = "Jobs for tasks Consul's catalog does not list, found by DNS A records (e.g. Cloud Map names) and scraped at GET /metrics on port: job name => { names, port }. Their security groups admit Prometheus themselves, by this module's security_group_id."
  type = map(object({
    names = list(string)
    port  = number
  }))
  default = {}

  validation {
    condition     = alltrue([for j in values(var.dns_sd_jobs) : length(j.names) > 0 && j.port > 0 && j.port < 65536])
    error_message = "each of dns_sd_jobs needs at least one DNS name and a TCP port."
  }
}

variable "service_discovery_namespace" {
  description = "A Cloud Map private DNS namespace ({ id, name }) to register Prometheus in as prometheus.<name>, so that tasks in the VPC reach its API (url_in_vpc). null: none."
  type = object({
    id   = string
    name = string
  })
  default = null
}

variable "load_balancer_arn" {
  description = "The ALB Prometheus is a listener of (the ingress ALB)."
  type        = string
}

variable "load_balancer_dns_name" {
  description = "That ALB's DNS name, for the URL."
  type        = string
}

variable "load_balancer_security_group_id" {
  description = "That ALB's security group: opened to ingress_cidrs on listener_port, and out to Prometheus."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.load_balancer_security_group_id))
    error_message = "load_balancer_security_group_id must be a security group ID (sg-...)."
  }
}

variable "listener_port" {
  description = "The ALB port Prometheus's API and UI answer on."
  type        = number
  default     = 9090

  validation {
    condition     = var.listener_port > 0 && var.listener_port < 65536 && var.listener_port != 80
    error_message = "listener_port must be a TCP port other than 80 (ingress's listener)."
  }
}

variable "ingress_cidrs" {
  description = "The only IPv4 CIDR blocks that reach Prometheus, e.g. [\"203.0.113.7/32\"]."
  type        = list(string)

  validation {
    condition     = length(var.ingress_cidrs) > 0 && alltrue([for c in var.ingress_cidrs : can(cidrnetmask(c))]) && !contains(var.ingress_cidrs, "0.0.0.0/0")
    error_message = "ingress_cidrs must hold at least one IPv4 CIDR block such as 203.0.113.7/32, and not 0.0.0.0/0: Prometheus's API has no authentication."
  }
}

variable "scrape_interval" {
  description = "How often every target is scraped (the compose stack's 2s, so the same queries and judge windows hold)."
  type        = string
  default     = "2s"

  validation {
    condition     = can(regex("^[0-9]+(ms|s|m)$", var.scrape_interval))
    error_message = "scrape_interval must be a Prometheus duration such as 2s."
  }
}

variable "retention" {
  description = "How long Prometheus keeps its samples (lost with its task anyway)."
  type        = string
  default     = "2d"

  validation {
    condition     = can(regex("^[0-9]+(h|d|w)$", var.retention))
    error_message = "retention must be a Prometheus duration such as 2d."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

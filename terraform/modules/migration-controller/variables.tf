variable "name" {
  description = "Prefix of every name: the task family, service, security group, role."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 lower-case letters, digits or -, starting with a letter."
  }
}

variable "vpc_id" {
  description = "The VPC of the tasks."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the tasks (they reach their image, Secrets Manager and the webhooks through the NAT gateway)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be subnet IDs (subnet-...)."
  }
}

variable "cluster_arn" {
  description = "The ECS cluster the tasks run in."
  type        = string
}

variable "log_group_name" {
  description = "The cluster's log group; the tasks write under the prefix migration-controller."
  type        = string
}

variable "image" {
  description = "The split image (the Dockerfile with BIN=split), with its tag: REGISTRY/NAME/split:TAG."
  type        = string

  validation {
    condition     = can(regex("^[^:@ ]+(:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$", var.image))
    error_message = "image must be an image reference with a tag or digest, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/greeter/split:latest."
  }
}

variable "ca_writer_image" {
  description = "An image with /bin/sh that writes Consul's CA into the task's volume before the controller starts (the split image has no shell), e.g. the Consul image."
  type        = string

  validation {
    condition     = can(regex(":[0-9]+\\.[0-9]+\\.[0-9]+$", var.ca_writer_image))
    error_message = "ca_writer_image must name a full version, e.g. public.ecr.aws/hashicorp/consul:1.22.2."
  }
}

variable "desired_count" {
  description = "How many tasks run: one leads (a Consul session lock), the others wait to take over."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 1 && var.desired_count <= 5 && floor(var.desired_count) == var.desired_count
    error_message = "desired_count must be a whole number from 1 to 5 (2: one leads, one takes over)."
  }
}

variable "port" {
  description = "CONTROLLER_PORT: where the controller serves /health, /status and /metrics."
  type        = number
  default     = 9470

  validation {
    condition     = var.port >= 1024 && var.port < 65536
    error_message = "port must be a TCP port from 1024 (the image's user is not root)."
  }
}

variable "consul_http_addr" {
  description = "CONSUL_HTTP_ADDR: Consul's HTTPS API, https://HOST:PORT."
  type        = string

  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+:[0-9]+$", var.consul_http_addr))
    error_message = "consul_http_addr must be https://HOST:PORT, e.g. https://greeter-consul.dc1:8501: the token must not cross the network in the clear."
  }
}

variable "consul_https_port" {
  description = "Consul's HTTPS port, the one of consul_http_addr, which the security groups open."
  type        = number
  default     = 8501

  validation {
    condition     = var.consul_https_port > 0 && var.consul_https_port < 65536
    error_message = "consul_https_port must be a TCP port, e.g. 8501."
  }
}

variable "consul_tls_server_name" {
  description = "CONSUL_TLS_SERVER_NAME: the name Consul's certificate carries, if the host of consul_http_addr is not in it. Empty: none."
  type        = string
  default     = ""
}

variable "consul_ca_cert_secret_arn" {
  description = "The Secrets Manager secret holding the CA (PEM) that signs Consul's HTTPS certificate."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:", var.consul_ca_cert_secret_arn))
    error_message = "consul_ca_cert_secret_arn must be a Secrets Manager ARN."
  }
}

variable "consul_token_secret_arn" {
  description = "The Secrets Manager secret holding the controller's Consul token (its SecretID, the bare string): the policy of consul/acl/migration-controller.hcl, nothing more."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:", var.consul_token_secret_arn))
    error_message = "consul_token_secret_arn must be a Secrets Manager ARN."
  }
}

variable "consul_session_node" {
  description = "CONSUL_SESSION_NODE: the Consul node the leader's session binds to (consul-ecs is agentless, so a session names a stable, registered node): the dev server's consul-server, or one of your servers'."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$", var.consul_session_node))
    error_message = "consul_session_node must name a Consul node, e.g. consul-server."
  }
}

variable "consul_server_security_group_ids" {
  description = "The Consul servers' security group in this VPC (the dev server's), opened to the controller on the HTTPS port: one ID, or none for servers beyond the VPC (consul_cidrs). A list, so that its length is known before the group exists."
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
  description = "The IPv4 blocks Consul's servers are in, when they are beyond this VPC: the controller goes out to them on the HTTPS port (their own rules must admit it). Empty with consul_server_security_group_ids."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.consul_cidrs : can(cidrnetmask(c)) && c != "0.0.0.0/0"])
    error_message = "consul_cidrs must be IPv4 CIDR blocks such as 10.20.0.0/24, not 0.0.0.0/0."
  }
}

variable "prometheus_url" {
  description = "PROMETHEUS_URL: the judge's Prometheus, as tasks in the VPC reach it (its Cloud Map name, not the ALB, which admits ingress_cidrs only)."
  type        = string

  validation {
    condition     = can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]+)?/?$", var.prometheus_url))
    error_message = "prometheus_url must be Prometheus's base URL, e.g. http://prometheus.greeter.internal:9090."
  }
}

variable "prometheus_port" {
  description = "The port of prometheus_url, which the security groups open."
  type        = number
  default     = 9090

  validation {
    condition     = var.prometheus_port > 0 && var.prometheus_port < 65536
    error_message = "prometheus_port must be a TCP port, e.g. 9090."
  }
}

variable "prometheus_security_group_id" {
  description = "Prometheus's security group: it alone reaches the controller's port, and admits the controller on prometheus_port."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.prometheus_security_group_id))
    error_message = "prometheus_security_group_id must be a security group ID (sg-...)."
  }
}

variable "service_discovery_namespace" {
  description = "The Cloud Map private DNS namespace ({ id, name }) the tasks register in as migration-controller.<name>, which Prometheus scrapes."
  type = object({
    id   = string
    name = string
  })
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

# Test scaffolding for scripts/test-terraform's names test: a stand-in for
# hashicorp/consul-ecs/aws//modules/mesh-task 0.10.0, which cannot be fetched offline.
# It takes the same arguments as the composition passes and records, as
# plan values, the AWS names the real module derives from them (read in its
# source at that version), so that two plans can be compared.

variable "family" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_service_name" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "port" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "requires_compatibilities" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "enable_transparent_proxy" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "upstreams" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_server_hosts" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "tls" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_ca_cert_arn" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "acls" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_dataplane_image" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "log_configuration" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "container_definitions" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "skip_server_watch" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "tls_server_name" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "http_config" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "grpc_config" {
  description = "As the registry module's."
  type        = any
  default     = null
}

resource "terraform_data" "names" {
  input = {
    # Task family, task and execution roles and their policies.
    aws_names = [var.family, "${var.family}-task", "${var.family}-execution"]
    paths     = []
  }
}

output "task_definition_arn" {
  description = "A value of the real output's form."
  value       = "arn:aws:ecs:us-east-1:123456789012:task-definition/${var.family}:1"
}

# Not a name: what the composition gives each app container, for
# scripts/test-terraform's checks of the plan (PORT, METRICS_PORT, ...).
resource "terraform_data" "app_environment" {
  input = { for c in var.container_definitions : c.name => { for e in c.environment : e.name => e.value } }
}

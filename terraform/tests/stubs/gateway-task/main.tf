# Test scaffolding for scripts/test-terraform's names test: a stand-in for
# hashicorp/consul-ecs/aws//modules/gateway-task 0.10.0, which cannot be fetched offline.
# It takes the same arguments as the composition passes and records, as
# plan values, the AWS names the real module derives from them (read in its
# source at that version), so that two plans can be compared.

variable "kind" {
  description = "As the registry module's."
  type        = any
  default     = null
}

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

variable "ecs_cluster_arn" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "launch_type" {
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

variable "subnets" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "security_groups" {
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

variable "lb_enabled" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "lb_create_security_group" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "custom_load_balancer_config" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "wan_address" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "wan_port" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "additional_task_role_policies" {
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
    # Task family, task and execution roles and their policies. Its ECS
    # service is named after its Consul service within the copy's own cluster;
    # with lb_enabled false it makes no load balancer and no security group.
    aws_names = [var.family, "${var.family}-task", "${var.family}-execution"]
    paths     = []
  }
}

output "wan_address" {
  description = "A value of the real output's form."
  value       = var.wan_address
}

output "wan_port" {
  description = "A value of the real output's form."
  value       = var.wan_port
}

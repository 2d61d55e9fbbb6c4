# Test scaffolding for scripts/test-terraform's names test: a stand-in for
# hashicorp/consul-ecs/aws//modules/controller 0.10.0, which cannot be fetched offline.
# It takes the same arguments as the composition passes and records, as
# plan values, the AWS names the real module derives from them (read in its
# source at that version), so that two plans can be compared.

variable "name_prefix" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "region" {
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

variable "consul_bootstrap_token_secret_arn" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_ca_cert_arn" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "tls" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "log_configuration" {
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
    # Task family, task and execution roles and policy. Its ECS service,
    # consul-ecs-controller, is named within the copy's own cluster.
    aws_names = [
      "${var.name_prefix}-consul-ecs-controller", "${var.name_prefix}-consul-ecs-controller-task",
      "${var.name_prefix}-consul-ecs-controller-execution",
    ]
    paths = []
  }
}

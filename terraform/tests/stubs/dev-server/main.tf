# Test scaffolding for scripts/test-terraform's names test: a stand-in for
# hashicorp/consul-ecs/aws//modules/dev-server 0.10.0, which cannot be fetched offline.
# It takes the same arguments as the composition passes and records, as
# plan values, the AWS names the real module derives from them (read in its
# source at that version), so that two plans can be compared.

variable "name" {
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

variable "vpc_id" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "subnet_ids" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "consul_image" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "tls" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "acls" {
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

variable "lb_subnets" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "lb_ingress_rule_cidr_blocks" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "datacenter" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "node_name" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "service_discovery_namespace" {
  description = "As the registry module's."
  type        = any
  default     = null
}

locals {
  datacenter = coalesce(var.datacenter, "dc1")
  # Its Cloud Map namespace: service_discovery_namespace, or the datacenter's.
  namespace = coalesce(var.service_discovery_namespace, local.datacenter)
}

resource "terraform_data" "names" {
  input = {
    # ECS service and task family, Cloud Map service, ALB and target group: name;
    # then its secrets, IAM roles and policy and security groups. The Cloud Map
    # namespace is service_discovery_namespace, or else the datacenter's (dc1 by default).
    aws_names = [
      var.name, "${var.name}-ca-key", "${var.name}-ca-cert", "${var.name}-bootstrap-token",
      "${var.name}_execution", "${var.name}_task", "${var.name}-lb-sg", "${var.name}-ecs-sg", local.namespace,
    ]
    paths = []
  }
}

output "security_group_id" {
  description = "A value of the real output's form."
  value       = "sg-0123456789abcdef0"
}

output "server_dns" {
  description = "A value of the real output's form."
  value       = "${var.name}.${local.namespace}"
}

output "ca_cert_arn" {
  description = "A value of the real output's form."
  value       = "arn:aws:secretsmanager:us-east-1:123456789012:secret:${var.name}-ca-cert-AbCdEf"
}

output "bootstrap_token_secret_arn" {
  description = "A value of the real output's form."
  value       = "arn:aws:secretsmanager:us-east-1:123456789012:secret:${var.name}-bootstrap-token-AbCdEf"
}

output "bootstrap_token_id" {
  description = "A value of the real output's form."
  value       = "00000000-0000-4000-8000-000000000000"
}

output "lb_dns_name" {
  description = "A value of the real output's form."
  value       = "${var.name}-0123456789.us-east-1.elb.amazonaws.com"
}

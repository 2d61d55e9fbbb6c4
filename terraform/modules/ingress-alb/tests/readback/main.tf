# Test scaffolding: reads the listener and the ALB's security group back from
# the API, apart from the module's own state.
variable "listener_arn" {
  description = "The listener to read."
  type        = string
}

variable "security_group_id" {
  description = "The security group to read."
  type        = string
}

data "aws_lb_listener" "this" {
  arn = var.listener_arn
}

data "aws_vpc_security_group_rules" "this" {
  filter {
    name   = "group-id"
    values = [var.security_group_id]
  }
}

data "aws_vpc_security_group_rule" "this" {
  for_each = toset(data.aws_vpc_security_group_rules.this.ids)

  security_group_rule_id = each.key
}

output "listener_port" {
  description = "The listener's port."
  value       = data.aws_lb_listener.this.port
}

output "listener_protocol" {
  description = "The listener's protocol."
  value       = data.aws_lb_listener.this.protocol
}

output "ingress_cidrs" {
  description = "Every CIDR block the security group admits, on any port."
  value       = toset([for r in data.aws_vpc_security_group_rule.this : r.cidr_ipv4 if !r.is_egress])
}

# Test scaffolding: an empty security group standing in for the Consul server's.
variable "vpc_id" {
  description = "The fixture VPC."
  type        = string
}

resource "aws_security_group" "server" {
  # checkov:skip=CKV2_AWS_5:test stand-in for the dev-server module's security group, attached to nothing on purpose
  name        = "consul-server-stand-in"
  description = "Stands in for the dev-server module's security group in tests"
  vpc_id      = var.vpc_id
}

output "security_group_id" {
  description = "The stand-in's ID."
  value       = aws_security_group.server.id
}

# Test scaffolding: stand-ins for Prometheus's and the Consul server's
# security groups, the secrets holding Consul's CA and the controller's
# token, and the copy's Cloud Map namespace.
variable "vpc_id" {
  description = "The fixture VPC."
  type        = string
}

resource "aws_security_group" "stand_in" {
  # checkov:skip=CKV2_AWS_5:test stand-ins for Prometheus's and dev-server's groups, attached to nothing on purpose
  for_each = toset(["prometheus", "consul"])

  name        = "controller-test-${each.key}-stand-in"
  description = "Stands in for the ${each.key} group in tests"
  vpc_id      = var.vpc_id
}

resource "aws_secretsmanager_secret" "stand_in" {
  # checkov:skip=CKV_AWS_149:test stand-in on moto, holding no secret
  # checkov:skip=CKV2_AWS_57:test stand-in on moto, never rotated
  for_each = toset(["ca", "token"])

  name                    = "controller-test-${each.key}-stand-in"
  recovery_window_in_days = 0
}

resource "aws_service_discovery_private_dns_namespace" "stand_in" {
  name = "controller-test.internal"
  vpc  = var.vpc_id
}

output "prometheus_security_group_id" {
  description = "The Prometheus stand-in."
  value       = aws_security_group.stand_in["prometheus"].id
}

output "consul_security_group_id" {
  description = "The Consul server stand-in."
  value       = aws_security_group.stand_in["consul"].id
}

output "ca_secret_arn" {
  description = "The CA secret stand-in."
  value       = aws_secretsmanager_secret.stand_in["ca"].arn
}

output "token_secret_arn" {
  description = "The token secret stand-in."
  value       = aws_secretsmanager_secret.stand_in["token"].arn
}

output "namespace" {
  description = "The Cloud Map namespace stand-in."
  value       = { id = aws_service_discovery_private_dns_namespace.stand_in.id, name = aws_service_discovery_private_dns_namespace.stand_in.name }
}

# Test scaffolding: a stand-in for greeter-lambda's security group.
variable "vpc_id" {
  description = "The fixture VPC."
  type        = string
}

resource "aws_security_group" "stand_in" {
  # checkov:skip=CKV2_AWS_5:test a stand-in for mesh-network's lambda group, attached to nothing on purpose
  for_each = toset(["lambda"])

  name        = "${each.key}-stand-in"
  description = "Stands in for mesh-network's ${each.key} group in tests"
  vpc_id      = var.vpc_id
}

output "lambda_security_group_id" {
  description = "The greeter-lambda stand-in's ID."
  value       = aws_security_group.stand_in["lambda"].id
}

# Test scaffolding for scripts/test-terraform's names test: a stand-in for
# terraform-aws-modules/vpc/aws 5.21.0, which cannot be fetched offline.
# It takes the same arguments as the composition passes and records, as
# plan values, the AWS names the real module derives from them (read in its
# source at that version), so that two plans can be compared.

variable "name" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "cidr" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "azs" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "private_subnets" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "public_subnets" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "enable_nat_gateway" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "single_nat_gateway" {
  description = "As the registry module's."
  type        = any
  default     = null
}

variable "enable_dns_hostnames" {
  description = "As the registry module's."
  type        = any
  default     = null
}

resource "terraform_data" "names" {
  input = {
    # The VPC and its subnets, NAT gateway and route tables carry `name` in their Name tags only.
    aws_names = [var.name]
    paths     = []
  }
}

output "vpc_id" {
  description = "A value of the real output's form."
  value       = "vpc-0123456789abcdef0"
}

output "private_subnets" {
  description = "A value of the real output's form."
  value       = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
}

output "public_subnets" {
  description = "A value of the real output's form."
  value       = ["subnet-0000000000000001a", "subnet-0000000000000001b", "subnet-0000000000000001c"]
}

output "vpc_cidr_block" {
  description = "A value of the real output's form."
  value       = var.cidr
}

variable "name" {
  description = "Prefix of the security groups' names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 lower-case letters, digits or -, starting with a letter."
  }
}

variable "vpc_id" {
  description = "The VPC the security groups belong to."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "consul_server_security_group_id" {
  description = "The Consul server's security group, opened to the mesh on Consul's HTTP(S) and gRPC ports."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.consul_server_security_group_id))
    error_message = "consul_server_security_group_id must be a security group ID (sg-...)."
  }
}

variable "tags" {
  description = "Tags for the security groups."
  type        = map(string)
  default     = {}
}

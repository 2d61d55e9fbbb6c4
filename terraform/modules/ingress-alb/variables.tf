variable "name" {
  description = "Name of the load balancer, its target group and security group."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9][a-zA-Z0-9-]{0,24}[a-zA-Z0-9]$", var.name))
    error_message = "name must be 2 to 26 letters, digits or - (a load balancer's name holds 32 characters, and -tg is added)."
  }
}

variable "vpc_id" {
  description = "The VPC of the load balancer and of its targets."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "Public subnets for the load balancer, in at least two availability zones."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be at least two subnet IDs (subnet-...), in two availability zones: an ALB needs both."
  }
}

variable "ingress_cidrs" {
  description = "The only IPv4 CIDR blocks the load balancer admits, e.g. [\"203.0.113.7/32\"] for your own address."
  type        = list(string)

  validation {
    condition     = length(var.ingress_cidrs) > 0 && alltrue([for c in var.ingress_cidrs : can(cidrnetmask(c))])
    error_message = "ingress_cidrs must hold at least one IPv4 CIDR block such as 203.0.113.7/32."
  }
}

variable "listener_port" {
  description = "The port the load balancer listens on (HTTP)."
  type        = number
  default     = 80

  validation {
    condition     = var.listener_port > 0 && var.listener_port < 65536
    error_message = "listener_port must be a TCP port, 1 to 65535."
  }
}

variable "target_port" {
  description = "The port ingress listens on in its task."
  type        = number
  default     = 8080

  validation {
    condition     = var.target_port > 0 && var.target_port < 65536
    error_message = "target_port must be a TCP port, 1 to 65535."
  }
}

variable "target_security_group_id" {
  description = "The security group of the ingress task, opened to the load balancer on target_port only."
  type        = string

  validation {
    condition     = can(regex("^sg-[0-9a-f]+$", var.target_security_group_id))
    error_message = "target_security_group_id must be a security group ID (sg-...)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "name" {
  description = "Prefix of the load balancer, its target group and security group."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,17}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 19 lower-case letters, digits or -, starting with a letter (a load balancer's name holds 32 characters, and -mesh-gateway is added)."
  }
}

variable "vpc_id" {
  description = "The VPC of the load balancer and of the gateway task."
  type        = string

  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC ID (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "Private subnets for the internal load balancer: those greeter-lambda runs in."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must be subnet IDs (subnet-...)."
  }
}

variable "callers" {
  description = "The only security groups the load balancer admits on port, by caller (keys known at plan, e.g. { greeter-lambda = sg-... }), each opened out to it there."
  type        = map(string)

  validation {
    condition     = length(var.callers) > 0
    error_message = "callers must name at least one caller and its security group, e.g. { greeter-lambda = \"sg-0123456789abcdef0\" }."
  }
}

variable "port" {
  description = "The mesh gateway's port, on the load balancer and on the task (consul-ecs's default LAN port)."
  type        = number
  default     = 8443

  validation {
    condition     = var.port > 0 && var.port < 65536
    error_message = "port must be a TCP port, 1 to 65535."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

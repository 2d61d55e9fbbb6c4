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

variable "consul_server_security_group_ids" {
  description = "The Consul servers' security group, opened to the mesh on Consul's HTTP(S) and gRPC ports: one ID for servers in this VPC (the dev server's), none for servers beyond it, whose own rules admit the VPC. A list, so that its length is known before the group exists."
  type        = list(string)

  validation {
    condition     = length(var.consul_server_security_group_ids) <= 1 && alltrue([for g in var.consul_server_security_group_ids : can(regex("^sg-[0-9a-f]+$", g))])
    error_message = "consul_server_security_group_ids must hold at most one security group ID (sg-...)."
  }
}

variable "mesh_ports" {
  description = "The ports mesh members reach each other on, by what listens there: every sidecar's public listener (consul-ecs's envoy_public_listener_port, 20000) and the gateways' LAN port (gateway-task's lan_port, 8443)."
  type        = map(number)
  default     = { envoy-public-listener = 20000, gateway = 8443 }

  validation {
    condition     = length(var.mesh_ports) > 0 && alltrue([for p in values(var.mesh_ports) : p > 0 && p < 65536 && floor(p) == p])
    error_message = "mesh_ports must map at least one listener to a TCP port."
  }
}

variable "tags" {
  description = "Tags for the security groups."
  type        = map(string)
  default     = {}
}

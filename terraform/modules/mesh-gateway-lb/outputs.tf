output "address" {
  description = "host:port of the mesh gateway: CONSUL_MESH_GATEWAY_URI, and the gateway's WAN address."
  value       = "${aws_lb.this.dns_name}:${aws_lb_listener.this.port}"
}

output "dns_name" {
  description = "The load balancer's DNS name."
  value       = aws_lb.this.dns_name
}

output "port" {
  description = "The port it listens on."
  value       = aws_lb_listener.this.port
}

output "internal" {
  description = "Whether the load balancer is internal (reachable from the VPC only), as ELB holds it."
  value       = aws_lb.this.internal
}

output "target_group_arn" {
  description = "The target group the gateway's ECS service registers its task in."
  value       = aws_lb_target_group.this.arn
}

output "security_group_id" {
  description = "The load balancer's security group."
  value       = aws_security_group.lb.id
}

output "gateway_security_group_id" {
  description = "The group to add to the mesh gateway task's: in from this load balancer on port only."
  value       = aws_security_group.gateway.id
}

output "admitted" {
  description = "Everything the load balancer admits, as PROTOCOL:FROM-TO<SECURITY-GROUP."
  value       = toset([for r in aws_vpc_security_group_ingress_rule.lb_from_callers : "${r.ip_protocol}:${r.from_port}-${r.to_port}<${r.referenced_security_group_id}"])
}

output "callers_egress" {
  description = "What each caller's group may now reach, as PROTOCOL:FROM-TO>SECURITY-GROUP."
  value       = toset([for r in aws_vpc_security_group_egress_rule.callers_to_lb : "${r.ip_protocol}:${r.from_port}-${r.to_port}>${r.referenced_security_group_id}"])
}

output "gateway_admits" {
  description = "Everything the gateway task's group admits, as PROTOCOL:FROM-TO<SECURITY-GROUP."
  value       = "${aws_vpc_security_group_ingress_rule.gateway_from_lb.ip_protocol}:${aws_vpc_security_group_ingress_rule.gateway_from_lb.from_port}-${aws_vpc_security_group_ingress_rule.gateway_from_lb.to_port}<${aws_vpc_security_group_ingress_rule.gateway_from_lb.referenced_security_group_id}"
}

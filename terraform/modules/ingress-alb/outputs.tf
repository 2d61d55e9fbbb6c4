output "arn" {
  description = "The load balancer's ARN, for listeners of its own (Prometheus's)."
  value       = aws_lb.this.arn
}

output "dns_name" {
  description = "The load balancer's DNS name."
  value       = aws_lb.this.dns_name
}

output "url" {
  description = "The URL the demo answers on: curl it."
  value       = "http://${aws_lb.this.dns_name}${var.listener_port == 80 ? "" : ":${var.listener_port}"}/"
}

output "target_group_arn" {
  description = "The target group the ingress ECS service registers its task in."
  value       = aws_lb_target_group.this.arn
}

output "listener" {
  description = "The listener as ELB holds it: ARN, port, protocol and the target group it forwards to."
  value = {
    arn          = aws_lb_listener.http.arn
    port         = aws_lb_listener.http.port
    protocol     = aws_lb_listener.http.protocol
    target_group = one(aws_lb_listener.http.default_action[*].target_group_arn)
  }
}

output "security_group_id" {
  description = "The load balancer's security group."
  value       = aws_security_group.alb.id
}

output "admitted" {
  description = "Everything the load balancer's security group admits, as PROTOCOL:FROM-TO<CIDR."
  value       = toset([for r in aws_vpc_security_group_ingress_rule.alb_in : "${r.ip_protocol}:${r.from_port}-${r.to_port}<${r.cidr_ipv4}"])
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "capacity_providers" {
  description = "The cluster's capacity providers: Fargate only."
  value       = aws_ecs_cluster_capacity_providers.this.capacity_providers
}

output "log_group_name" {
  description = "The log group every task writes to (awslogs driver)."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_retention_days" {
  description = "Retention of the log group, as CloudWatch holds it."
  value       = aws_cloudwatch_log_group.this.retention_in_days
}

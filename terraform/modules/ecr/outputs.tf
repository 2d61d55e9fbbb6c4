output "registry" {
  description = "The registry every repository is in, ACCOUNT.dkr.ecr.REGION.amazonaws.com: what scripts/push-ecr --registry takes."
  value       = one(distinct([for r in aws_ecr_repository.this : split("/", r.repository_url)[0]]))
}

output "repository_urls" {
  description = "Repository URL by name (without the prefix): REGISTRY/PREFIX/NAME."
  value       = { for name, r in aws_ecr_repository.this : name => r.repository_url }
}

output "scan_on_push" {
  description = "Whether each repository scans what is pushed, by name."
  value       = { for name, r in aws_ecr_repository.this : name => r.image_scanning_configuration[0].scan_on_push }
}

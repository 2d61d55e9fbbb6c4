# Private ECR repositories, PREFIX/NAME so that two copies in one region keep
# apart. scripts/push-ecr pushes the four ECS images and split here (each as <commit>
# and latest), scripts/copy-registrator-image the Lambda registrator's image,
# which Lambda can only run from a private repository.
resource "aws_ecr_repository" "this" {
  for_each = var.repositories

  # checkov:skip=CKV_AWS_51:scripts/push-ecr moves the latest tag on every push; the commit tags never move
  name                 = var.prefix == "" ? each.key : "${var.prefix}/${each.key}"
  image_tag_mutability = "MUTABLE"
  # Images are build outputs of this repository: nothing is lost when `terraform destroy` takes them too.
  force_delete = true
  tags         = var.tags

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the last ${var.keep_images} images"
      selection = {
        tagStatus   = "any"
        countType   = "imageCountMoreThan"
        countNumber = var.keep_images
      }
      action = { type = "expire" }
    }]
  })
}

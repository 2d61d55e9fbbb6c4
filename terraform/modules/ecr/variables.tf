variable "repositories" {
  description = "Names of the private ECR repositories to create: the four ECS services, split (the migration controller) and the Lambda registrator's copy."
  type        = set(string)

  validation {
    condition     = length(var.repositories) > 0 && alltrue([for r in var.repositories : can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", r))])
    error_message = "repositories must be a non-empty set of ECR names: lower-case letters, digits and single . _ - between them (e.g. greeter, consul-lambda-registrator)."
  }
}

variable "prefix" {
  description = "Namespace of every repository (PREFIX/NAME): the copy's name, so that two copies in one region keep apart. Empty: NAME alone."
  type        = string
  default     = ""

  validation {
    condition     = var.prefix == "" || can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*$", var.prefix))
    error_message = "prefix must be empty or lower-case letters, digits and single . _ - between them (e.g. greeter)."
  }
}

variable "keep_images" {
  description = "How many images each repository keeps; older ones expire, so repeated pushes cost nothing extra."
  type        = number
  default     = 10

  validation {
    condition     = var.keep_images >= 2 && floor(var.keep_images) == var.keep_images
    error_message = "keep_images must be a whole number of at least 2 (one build's commit tag plus latest)."
  }
}

variable "tags" {
  description = "Tags for every repository."
  type        = map(string)
  default     = {}
}

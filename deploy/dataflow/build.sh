#!/usr/bin/env bash
# Build the wirestream image and its Dataflow Flex Template spec.
#
#   PROJECT=my-project REGION=europe-west1 REPOSITORY=wirestream BUCKET=gs://my-bucket \
#     deploy/dataflow/build.sh
#
# Required: PROJECT, REGION, REPOSITORY (an Artifact Registry Docker repository in REGION),
#   BUCKET (gs://... where the template spec is stored).
# Optional: TAG (default: the commit's short hash), BUILDER (cloudbuild, the default, or docker
#   for a local docker build and push; run `gcloud auth configure-docker REGION-docker.pkg.dev`
#   first).
# Prints IMAGE and TEMPLATE, the two values deploy/dataflow/run.sh needs.
set -euo pipefail

: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${REPOSITORY:?set REPOSITORY}" "${BUCKET:?set BUCKET}"
root=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
tag=${TAG:-$(git -C "$root" rev-parse --short HEAD)}
image="$REGION-docker.pkg.dev/$PROJECT/$REPOSITORY/wirestream:$tag"
template="${BUCKET%/}/templates/wirestream-$tag.json"

# The build context is the committed tree only: no virtualenv, outputs or caches.
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
git -C "$root" archive HEAD | tar -x -C "$context"

case ${BUILDER:-cloudbuild} in
  cloudbuild)
    gcloud builds submit "$context" --project "$PROJECT" --region "$REGION" \
      --config "$context/deploy/dataflow/cloudbuild.yaml" --substitutions "_IMAGE=$image"
    ;;
  docker)
    docker build -f "$context/deploy/dataflow/Dockerfile" -t "$image" "$context"
    docker push "$image"
    ;;
  *)
    echo "build.sh: BUILDER must be cloudbuild or docker" >&2
    exit 2
    ;;
esac

gcloud dataflow flex-template build "$template" \
  --project "$PROJECT" \
  --image "$image" \
  --sdk-language PYTHON \
  --metadata-file "$root/deploy/dataflow/metadata.json"

echo "IMAGE=$image"
echo "TEMPLATE=$template"

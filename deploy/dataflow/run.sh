#!/usr/bin/env bash
# Launch a wirestream job from the Flex Template built by deploy/dataflow/build.sh.
#
#   PROJECT=my-project REGION=europe-west1 IMAGE=... TEMPLATE=gs://... \
#   TEMP_LOCATION=gs://my-bucket/tmp INPUT='gs://my-bucket/feeds/**' OUTPUT=gs://my-bucket/wirestream \
#     deploy/dataflow/run.sh
#
# Required: PROJECT, REGION (where the job and its workers run), IMAGE and TEMPLATE (printed by
#   build.sh), TEMP_LOCATION (gs://... for Beam's temporary and staging files), INPUT, OUTPUT.
# Optional: NUM_WORKERS (default 1), MAX_WORKERS (default 4: autoscaling ceiling),
#   MACHINE_TYPE (default n2-standard-2), MODE (overwrite or append, default overwrite),
#   STREAMING (true for a streaming job with Streaming Engine, default false), JOB_NAME.
set -euo pipefail

: "${PROJECT:?set PROJECT}" "${REGION:?set REGION}" "${IMAGE:?set IMAGE}" "${TEMPLATE:?set TEMPLATE}"
: "${TEMP_LOCATION:?set TEMP_LOCATION}" "${INPUT:?set INPUT}" "${OUTPUT:?set OUTPUT}"
streaming=${STREAMING:-false}

args=(
  --project "$PROJECT"
  --region "$REGION"
  --template-file-gcs-location "$TEMPLATE"
  --temp-location "$TEMP_LOCATION"
  --staging-location "${TEMP_LOCATION%/}/staging"
  --num-workers "${NUM_WORKERS:-1}"
  --max-workers "${MAX_WORKERS:-4}"
  --worker-machine-type "${MACHINE_TYPE:-n2-standard-2}"
  # '^~^' makes ~ the separator between parameters, so values may contain commas.
  --parameters "^~^input=$INPUT~output=$OUTPUT~mode=${MODE:-overwrite}~streaming=$streaming~sdk_container_image=$IMAGE"
)
if [[ $streaming == true ]]; then
  args+=(--enable-streaming-engine)
fi

gcloud dataflow flex-template run "${JOB_NAME:-wirestream-$(date -u +%Y%m%d-%H%M%S)}" "${args[@]}"

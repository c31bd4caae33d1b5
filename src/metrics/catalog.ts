/**
 * Every metric family the exporter serves: name, HELP and label names, in one table.
 * README's metrics reference and the dashboard are checked against it by tests.
 * Keys are `labelNames`, never `labels`: prom-client copies its config onto the metric,
 * and a `labels` key would replace the `Gauge#labels()` method.
 */
export const RESOURCE_FAMILIES = {
  encodeServers: {
    name: 'cph_encode_servers',
    help: 'Number of CPH encode servers, as of the last successful poll of the project and region.',
    labelNames: ['project_id', 'region', 'server_id', 'type', 'status'],
  },
  encodeServerPorts: {
    name: 'cph_encode_server_ports',
    help: 'Number of access ports of CPH encode servers by port type and exposure (public IP or not), as of the last successful poll of the project and region.',
    labelNames: ['project_id', 'region', 'server_id', 'type', 'status', 'port_type', 'exposure'],
  },
  encodeServerInfo: {
    name: 'cph_encode_server_info',
    help: 'Attributes of a CPH encode server, as of the last successful poll of the project and region; always 1.',
    labelNames: [
      'project_id',
      'region',
      'encode_server_id',
      'encode_server_name',
      'server_id',
      'encode_server_ip',
      'keypair_name',
      'type',
      'status',
      'status_code',
    ],
  },
  phoneServers: {
    name: 'cph_phone_servers',
    help: 'CPH cloud-phone servers by status (1 per server), as of the last successful poll of the project and region.',
    labelNames: ['project_id', 'region', 'server_id', 'status'],
  },
  phoneServerInfo: {
    name: 'cph_phone_server_info',
    help: 'Attributes of a CPH cloud-phone server, as of the last successful poll of the project and region; always 1.',
    labelNames: ['project_id', 'region', 'server_id', 'server_name', 'server_model_name', 'phone_model_name', 'availability_zone', 'network_version', 'status_code'],
  },
  phones: {
    name: 'cph_phones',
    help: 'Number of CPH cloud phones of a cloud-phone server by status, as of the last successful poll of the project and region.',
    labelNames: ['project_id', 'region', 'server_id', 'status'],
  },
  phoneInfo: {
    name: 'cph_phone_info',
    help: 'Attributes of a CPH cloud phone, as of the last successful poll of the project and region; always 1. Only with metrics.phone_info.',
    labelNames: [
      'project_id',
      'region',
      'phone_id',
      'phone_name',
      'server_id',
      'status',
      'status_code',
      'phone_model_name',
      'image_version',
      'vnc_enabled',
      'traffic_type',
    ],
  },
} as const;

export type ResourceFamilyKey = keyof typeof RESOURCE_FAMILIES;

export const HEALTH_FAMILIES = {
  up: {
    name: 'cph_up',
    help: 'Whether the last poll of the project and region completed every resource it lists (1), or not: one failed, or the target was held back by an authentication back-off (0).',
    labelNames: ['project_id', 'region'],
  },
  resourceUp: {
    name: 'cph_resource_up',
    help: 'Whether the last listing of the resource (encode_servers, phone_servers, phones) of the project and region completed (1) or failed (0).',
    labelNames: ['project_id', 'region', 'resource'],
  },
  pollDuration: {
    name: 'cph_poll_duration_seconds',
    help: 'Duration of the last poll of the project and region, in seconds.',
    labelNames: ['project_id', 'region'],
  },
  lastSuccess: {
    name: 'cph_poll_last_success_timestamp_seconds',
    help: 'Unix time of the last complete listing of the resource of the project and region.',
    labelNames: ['project_id', 'region', 'resource'],
  },
  failures: {
    name: 'cph_poll_failures_total',
    help: 'Listings of the resource of the project and region that failed, by cause.',
    labelNames: ['project_id', 'region', 'resource', 'reason'],
  },
  disagreements: {
    name: 'cph_listing_disagreements_total',
    help: 'Listings of phone servers or phones whose pages disagreed with the API\'s total (count): records created or deleted meanwhile, or a page short of it. Each is listed again once; a second disagreement fails the listing as inconsistent.',
    labelNames: ['project_id', 'region', 'resource'],
  },
  error: {
    name: 'cph_poll_error',
    help: 'Set to 1, labelled with the cause, while the last listing of the resource of the project and region has failed; absent when it succeeded.',
    labelNames: ['project_id', 'region', 'resource', 'reason'],
  },
  authBackoff: {
    name: 'cph_target_auth_backoff_seconds',
    help: 'Seconds until a project and region in authentication back-off (refused itself, or held because its key is blocked) is polled again; 0 when not backing off.',
    labelNames: ['project_id', 'region'],
  },
  apiRequests: {
    name: 'cph_api_requests_total',
    help: 'HTTP requests to the CPH API that got an answer or failed on their own, by operation and HTTP status code (or network, timeout, tls). Requests the exporter cancelled itself are in cph_api_requests_cancelled_total.',
    labelNames: ['operation', 'code'],
  },
  apiRequestsCancelled: {
    name: 'cph_api_requests_cancelled_total',
    help: 'HTTP requests to the CPH API that the exporter cancelled before their answer, by operation and reason: not_needed (a speculative page beyond the end of a listing, cancelled by design; not a failure) or abandoned (its listing had already failed, or the exporter was shutting down).',
    labelNames: ['operation', 'reason'],
  },
  apiRequestDuration: {
    name: 'cph_api_request_duration_seconds',
    help: 'Duration of HTTP requests to the CPH API, in seconds.',
    labelNames: ['operation'],
  },
  apiRetries: {
    name: 'cph_api_retries_total',
    help: 'Retried CPH API requests by operation and cause.',
    labelNames: ['operation', 'reason'],
  },
  apiErrors: {
    name: 'cph_api_errors_total',
    help: 'Error responses of the CPH API by operation and the API error code (such as APIGW.0308 or CPS.0002).',
    labelNames: ['operation', 'error_code'],
  },
  accessPortsUnaddressable: {
    name: 'cph_access_ports_unaddressable',
    help: 'Access ports of the project and region left out of /sd/access-ports because they have no usable address (a public port without a valid access_port, a private one without a valid listen_port, or an IP that is neither an IP address nor a host name), as of the last poll.',
    labelNames: ['project_id', 'region'],
  },
  pollsSkipped: {
    name: 'cph_polls_skipped_total',
    help: 'Scheduled polls skipped because the previous poll was still running.',
    labelNames: [],
  },
  shardInfo: {
    name: 'cph_shard_info',
    help: 'Which shard of the targets this exporter polls (rendezvous hashing of project_id and region); always 1.',
    labelNames: ['shard_index', 'shard_count'],
  },
  shardTargets: {
    name: 'cph_shard_targets',
    help: 'Targets (project and region pairs) this exporter polls, out of all configured.',
    labelNames: [],
  },
  discoveryUp: {
    name: 'cph_project_discovery_up',
    help: 'For a target without project_id: 1 when IAM named its project (it is polled), 0 when discovery failed (it is not; the log says why).',
    labelNames: ['account', 'region'],
  },
  reloadSuccessful: {
    name: 'cph_config_last_reload_successful',
    help: 'Whether the last configuration reload (SIGHUP or POST /-/reload) succeeded; 1 at start-up.',
    labelNames: [],
  },
  reloadSuccessTime: {
    name: 'cph_config_last_reload_success_timestamp_seconds',
    help: 'Unix time of the last successful configuration load (start-up or reload).',
    labelNames: [],
  },
  buildInfo: {
    name: 'cph_build_info',
    help: 'Build information of cph-exporter; always 1.',
    labelNames: ['version', 'revision', 'nodejs_version'],
  },
} as const;

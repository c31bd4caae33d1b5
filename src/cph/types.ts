/**
 * Wire shapes of the CPH ListEncodeServers API, as the API documents them
 * (../shared/api/ListEncodeServers.md). These are what a *validated* response
 * looks like; `validate.ts` turns untrusted JSON into these types or an error.
 */

/** One entry of `access_infos`: how one port of an encode server is reached. */
export interface AccessInfo {
  /** `adb`, `vnc`, `cph_app_server`, `cph_h5_server`, or any user-defined string. */
  type: string;
  listen_port?: number | undefined;
  access_port?: number | undefined;
  /** New field: the public IP, or "" when the port is not exposed publicly. */
  public_ip?: string | undefined;
  /** New field: the private (intranet) IP. */
  server_ip?: string | undefined;
  /** Deprecated: documented as the public IP, but real records may hold the private one. */
  access_ip?: string | undefined;
  /** Deprecated: the private IP (the document's table misspells it `internet_ip`). */
  intranet_ip?: string | undefined;
}

/** One element of `encode_servers`. */
export interface EncodeServer {
  encode_server_id: string;
  encode_server_name: string;
  encode_server_ip: string;
  server_id: string;
  keypair_name: string;
  /** 0 = server, 1 = container; anything else is kept and reported as `unknown`. */
  type: number;
  /** Raw status code; see `metrics/enums.ts` for the mapping and the document's contradiction. */
  status: number;
  access_infos: AccessInfo[];
}

/** A validated 200 response of ListEncodeServers. */
export interface ListEncodeServersResponse {
  request_id?: string | undefined;
  encode_servers: EncodeServer[];
}

/** Query parameters of ListEncodeServers. */
export interface ListEncodeServersQuery {
  offset?: number;
  limit?: number;
  type?: number;
  status?: number;
  server_id?: string;
}

/** AK/SK credentials, optionally temporary (with a security token). */
export interface Credentials {
  accessKey: string;
  secretKey: string;
  securityToken?: string | undefined;
}

/**
 * One element of ListCloudPhoneServers' `servers` (NOTES.md §2a): the fields the exporter uses.
 * The API returns more (VPC, addresses, metadata); they are not read.
 */
export interface CloudPhoneServer {
  server_id: string;
  server_name: string;
  /** Raw status code; see `metrics/enums.ts` (`PHONE_SERVER_STATUS_LABELS`). */
  status: number;
  server_model_name: string;
  phone_model_name: string;
  availability_zone: string;
  /** `v1` (system-defined network) or `v2` (user-defined); "" when absent. */
  network_version: string;
}

/** One element of ListCloudPhones' `phones` (NOTES.md §2b): the fields the exporter uses. */
export interface CloudPhone {
  phone_id: string;
  phone_name: string;
  server_id: string;
  /** Raw status code, negative for failures; see `metrics/enums.ts` (`PHONE_STATUS_LABELS`). */
  status: number;
  phone_model_name: string;
  image_version: string;
  /** The API's string `"true"`/`"false"`, kept as sent ("" when absent). */
  vnc_enable: string;
  /** `direct` or `routing`; "" when absent. */
  traffic_type: string;
}

/** A validated page of a list API that reports its total (`count`). */
export interface CountedPage<T> {
  request_id?: string | undefined;
  /** Total number of records of the listing, as of this page's answer. */
  count: number;
  items: T[];
}

/** Query parameters the exporter sends to the counted list APIs. */
export interface PageQuery {
  offset: number;
  limit: number;
}

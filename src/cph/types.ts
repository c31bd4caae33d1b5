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

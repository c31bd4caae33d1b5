/**
 * What the routes of the simulator (API and admin) may see and change. The server implements it; route files import
 * this type only, so a new route is a new file plus one line in its room's table.
 */
import type { SimAccounts } from './accounts/accounts.js';
import type { MetadataService } from './accounts/metadata.js';
import type { FaultController } from './faults.js';
import type { Estate } from './estate.js';
import type { Fleet } from './fleet.js';
import type { Gateway } from './gateway/gateway.js';
import type { Clock, FleetSize, Simulator } from './options.js';
import type { SimulatorStats } from './stats.js';

export interface SimWorld extends Simulator {
  readonly seed: number;
  readonly stats: SimulatorStats;
  readonly faults: FaultController;
  readonly gateway: Gateway;
  readonly clock: Clock;
  /** Fleet size for project ids not configured (undefined: they get 403). */
  readonly defaultFleet: FleetSize | undefined;
  /** The fleet of a project, or undefined when the simulator does not serve it. */
  fleetOrUndefined(projectId: string): Fleet | undefined;
  /** The phone servers and phones of a project (built on first use), or undefined when the simulator does not serve it. */
  estateOrUndefined(projectId: string): Estate | undefined;
  /** The effective configuration, as `GET /_sim/config` shows it. */
  configJson(): unknown;
}

/**
 * Well-known FAKE credentials and project ids for the simulator and the demo. They are accepted by the simulator
 * only; they are not, and never were, valid Huawei Cloud credentials.
 */

/** Demo access key (20 characters, like a real AK). */
export const DEMO_ACCESS_KEY = 'DEMOAK0000000000CPHX';

/** Demo secret key (40 characters, like a real SK). Public on purpose: it only opens the simulator. */
export const DEMO_SECRET_KEY = 'DEMOSECRETKEYNOTREAL00000000000000000CPH';

/** Project ids the simulator serves by default (`npm run simulator` without `--projects`), with their fleet sizes. */
export const DEMO_PROJECTS: Readonly<Record<string, number>> = {
  d0000000000000000000000000000001: 250,
  d0000000000000000000000000000002: 60,
};

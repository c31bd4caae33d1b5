/**
 * What Prometheus' http_sd_config accepts, checked strictly (discovery/http and model.LabelSet in Prometheus):
 * a JSON array of objects with exactly `targets` (strings) and `labels` (valid label names, STRING values), and
 * here additionally every target a `host:port` with a port in 1..65535, as blackbox's tcp_connect needs.
 */
export interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

export function assertValidSdAnswer(body: string): TargetGroup[] {
  const doc: unknown = JSON.parse(body);
  if (!Array.isArray(doc)) throw new Error('the answer is not a JSON array');
  doc.forEach((group: unknown, i) => {
    if (typeof group !== 'object' || group === null || Array.isArray(group)) throw new Error(`group ${i} is not an object`);
    const keys = Object.keys(group).sort();
    if (keys.join() !== 'labels,targets') throw new Error(`group ${i} has keys ${keys.join()}, expected labels and targets`);
    const { targets, labels } = group as { targets: unknown; labels: unknown };
    if (!Array.isArray(targets) || targets.length === 0) throw new Error(`group ${i}: targets is not a non-empty array`);
    for (const t of targets) {
      const m = typeof t === 'string' ? HOST_PORT.exec(t) : null;
      if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw new Error(`group ${i}: target ${JSON.stringify(t)} is not host:port`);
    }
    if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) throw new Error(`group ${i}: labels is not an object`);
    for (const [name, value] of Object.entries(labels)) {
      if (!LABEL_NAME.test(name)) throw new Error(`group ${i}: invalid label name ${JSON.stringify(name)}`);
      if (typeof value !== 'string') throw new Error(`group ${i}: label ${name} is a ${typeof value}, not a string`);
    }
  });
  return doc as TargetGroup[];
}

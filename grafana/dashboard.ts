/**
 * The "CPH encode servers" Grafana dashboard, as code (Grafana Foundation SDK).
 *
 * `npm run dashboards` writes it to grafana/dashboards/cph-encode-servers.json, which is committed;
 * test/grafana/dashboard.test.ts fails when the two differ. Fleet-wide panels read the recording rules of
 * prometheus/cph-exporter.rules.yml (they must be loaded); the panels scoped to cloud-phone servers read the
 * exporter's series directly, because the recording rules do not keep `server_id`.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  FieldColorBuilder,
  FieldColorModeId,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
  type Dashboard,
  type DynamicConfigValue,
  type Panel,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as BarGaugePanelBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelinePanelBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

export const DASHBOARD_UID = 'cph-encode-servers';
export const DASHBOARD_FILE = 'grafana/dashboards/cph-encode-servers.json';

const ds = { type: 'prometheus', uid: '${datasource}' };

/** Label matchers of the dashboard variables. Recording rules keep project_id and region, not server_id. */
const TARGET = 'project_id=~"$project_id", region=~"$region"';
const SERVER = `${TARGET}, server_id=~"$server_id"`;

const STATUS_COLORS: Record<string, string> = {
  running: 'green',
  abnormal: 'red',
  restarting: 'orange',
  creating: 'blue',
  unknown: 'purple',
};

function query(refId: string, expr: string, legend = ''): DataqueryBuilder {
  const q = new DataqueryBuilder().datasource(ds).refId(refId).expr(expr);
  return legend === '' ? q : q.legendFormat(legend);
}

function instantTable(refId: string, expr: string): DataqueryBuilder {
  return new DataqueryBuilder().datasource(ds).refId(refId).expr(expr).instant().format(PromQueryFormat.Table);
}

function thresholds(...steps: [number | null, string][]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

function fixedColor(color: string): DynamicConfigValue {
  return { id: 'color', value: { mode: 'fixed', fixedColor: color } };
}

function stat(title: string, description: string, expr: string, steps: [number | null, string][]): StatPanelBuilder {
  return new StatPanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .span(4)
    .height(4)
    .unit('short')
    .decimals(0)
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(thresholds(...steps))
    .withTarget(query('A', expr));
}

/** A state timeline of a 0/1 series: red for 0, green for 1, with these two words. */
function upDownTimeline(title: string, description: string, [zero, one]: [string, string]): StateTimelinePanelBuilder {
  return new StateTimelinePanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .span(8)
    .height(8)
    .showValue(common.VisibilityMode.Never)
    .mappings([{ type: MappingType.ValueToText, options: { '0': { text: zero, color: 'red', index: 0 }, '1': { text: one, color: 'green', index: 1 } } }])
    .thresholds(thresholds([null, 'red'], [1, 'green']));
}

function timeseries(title: string, description: string, span: number): TimeseriesPanelBuilder {
  return new TimeseriesPanelBuilder()
    .title(title)
    .description(description)
    .datasource(ds)
    .span(span)
    .height(8)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
}

/** Colours of the phone and phone-server statuses (src/metrics/enums.ts): failures red, transitions orange or blue. */
const ESTATE_STATUS_COLORS: Record<string, string> = {
  running: 'green',
  abnormal: 'red',
  reset_failed: 'dark-red',
  restart_failed: 'dark-red',
  creation_failed: 'dark-red',
  shutdown_failed: 'dark-red',
  creating: 'blue',
  starting: 'blue',
  resetting: 'orange',
  restarting: 'orange',
  shutting_down: 'yellow',
  shutdown: 'text',
  frozen: 'purple',
  unknown: 'purple',
};

/** Phone statuses that CphPhonesFailing alerts on. */
const FAILING_PHONES = 'status=~"abnormal|.+_failed"';

function stackedByStatus(panel: TimeseriesPanelBuilder, colors: Record<string, string> = STATUS_COLORS): TimeseriesPanelBuilder {
  let p = panel
    .unit('short')
    .decimals(0)
    .min(0)
    .fillOpacity(30)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  for (const [status, color] of Object.entries(colors)) p = p.overrideByName(status, [fixedColor(color)]);
  return p;
}

function hideColumns(...names: string[]): { id: string; options: unknown } {
  return {
    id: 'organize',
    options: { excludeByName: Object.fromEntries(names.map((n) => [n, true])), renameByName: {}, indexByName: {} },
  };
}

function fleetRow(d: DashboardBuilder): DashboardBuilder {
  return d
    .withRow(new RowBuilder('Fleet (projects and regions)'))
    .withPanel(
      stat('Encode servers', 'All encode servers of the selected projects and regions, as of the last poll.',
        `sum(project_region:cph_encode_servers:sum{${TARGET}})`, [[null, 'blue']]),
    )
    .withPanel(
      stat('Abnormal', 'Encode servers in status abnormal (API status 2). Alert: CphEncodeServerAbnormal.',
        `sum(project_region_status:cph_encode_servers:sum{${TARGET}, status="abnormal"}) or vector(0)`,
        [[null, 'green'], [1, 'red']]),
    )
    .withPanel(
      stat('Restarting or creating', 'Encode servers in status restarting or creating. Alerts: CphEncodeServerRestartingTooLong, CphEncodeServerCreatingTooLong.',
        `sum(project_region_status:cph_encode_servers:sum{${TARGET}, status=~"restarting|creating"}) or vector(0)`,
        [[null, 'green'], [1, 'orange']]),
    )
    .withPanel(
      stat('Unknown status', 'Encode servers whose status code the exporter does not map. Alert: CphEncodeServerUnknownStatus.',
        `sum(project_region_status:cph_encode_servers:sum{${TARGET}, status="unknown"}) or vector(0)`,
        [[null, 'green'], [1, 'purple']]),
    )
    .withPanel(
      stat('Public ADB/VNC ports', 'ADB or VNC ports reachable on a public IP: anyone reaching them controls the phones. Alert: CphPublicAdbOrVncPort.',
        `sum(project_region_port_type_exposure:cph_encode_server_ports:sum{${TARGET}, port_type=~"adb|vnc", exposure="public"}) or vector(0)`,
        [[null, 'green'], [1, 'red']]),
    )
    .withPanel(
      stat('Targets up', 'Targets (project, region) whose last poll succeeded, out of all selected targets.',
        `sum(cph_up{${TARGET}})`, [[null, 'blue']])
        .withTarget(query('B', `count(cph_up{${TARGET}})`))
        .textMode(common.BigValueTextMode.ValueAndName)
        .overrideByQuery('A', [{ id: 'displayName', value: 'up' }])
        .overrideByQuery('B', [{ id: 'displayName', value: 'targets' }]),
    )
    .withPanel(
      stackedByStatus(timeseries('Encode servers by status', 'Stacked count per status, from the recording rule project_region_status:cph_encode_servers:sum.', 12))
        .withTarget(query('A', `sum by (status) (project_region_status:cph_encode_servers:sum{${TARGET}})`, '{{status}}')),
    )
    .withPanel(
      timeseries('Encode servers by type', 'Stacked count per type (server, container, unknown), from project_region_type:cph_encode_servers:sum.', 12)
        .unit('short')
        .decimals(0)
        .min(0)
        .fillOpacity(30)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
        .withTarget(query('A', `sum by (type) (project_region_type:cph_encode_servers:sum{${TARGET}})`, '{{type}}')),
    );
}

function serversRow(d: DashboardBuilder): DashboardBuilder {
  return d
    .withRow(new RowBuilder('Encode servers (selected cloud-phone servers)'))
    .withPanel(
      new TablePanelBuilder()
        .title('Encode servers not running')
        .description(
          'Encode servers whose status is not running, with name, cloud-phone server and IP from ' +
            'cph_encode_server_info (empty when the exporter runs with metrics.encode_server_info off).',
        )
        .datasource(ds)
        .span(24)
        .height(8)
        .withTarget(instantTable('A', `cph_encode_server_info{${SERVER}, status!="running"}`))
        .withTransformation(hideColumns('Time', 'Value', '__name__', 'job', 'instance', 'keypair_name'))
        .sortBy([new common.TableSortByFieldStateBuilder().displayName('status').desc(false)])
        .filterable(true)
        .overrideByName('status', [
          { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } },
          {
            id: 'mappings',
            value: Object.entries(STATUS_COLORS).map(([status, color]) => ({
              type: MappingType.ValueToText,
              options: { [status]: { color, index: 0 } },
            })),
          },
        ]),
    )
    .withPanel(
      stackedByStatus(timeseries('Not running, per cloud-phone server', 'Encode servers not running, per cloud-phone server and status (works without cph_encode_server_info).', 12))
        .withTarget(query('A', `sum by (server_id, status) (cph_encode_servers{${SERVER}, status!="running"})`, '{{server_id}} {{status}}')),
    )
    .withPanel(
      new BarGaugePanelBuilder()
        .title('Exposed ports by type and exposure')
        .description('Ports of the encode servers by port type and exposure; public ADB and VNC ports are red.')
        .datasource(ds)
        .span(12)
        .height(8)
        .unit('short')
        .decimals(0)
        .min(0)
        .orientation(common.VizOrientation.Horizontal)
        .displayMode(common.BarGaugeDisplayMode.Basic)
        .colorScheme(new FieldColorBuilder().mode(FieldColorModeId.Fixed).fixedColor('blue'))
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
        .withTarget(
          query('A', `sum by (port_type, exposure) (cph_encode_server_ports{${SERVER}})`, '{{port_type}} {{exposure}}').instant(),
        )
        .overrideByRegexp('^(adb|vnc) public$', [fixedColor('red')])
        .overrideByRegexp('^(cph_app_server|cph_h5_server|custom) public$', [fixedColor('orange')]),
    )
    .withPanel(
      new TablePanelBuilder()
        .title('Cloud-phone servers with public ADB/VNC ports')
        .description('Cloud-phone servers with ADB or VNC ports on a public IP (CphPublicAdbOrVncPort). Should be empty.')
        .datasource(ds)
        .span(24)
        .height(6)
        .withTarget(
          instantTable('A', `sum by (project_id, region, server_id, port_type) (cph_encode_server_ports{${SERVER}, port_type=~"adb|vnc", exposure="public"})`),
        )
        .withTransformation({ id: 'organize', options: { excludeByName: { Time: true }, renameByName: { Value: 'public ports' }, indexByName: {} } })
        .overrideByName('public ports', [
          { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } },
          fixedColor('red'),
        ]),
    );
}

/**
 * Reachability: what blackbox_exporter finds when it probes the ports /sd/access-ports lists (the probe jobs of
 * prometheus/cph-exporter-probes.prometheus.yml). Empty without those jobs.
 */
/**
 * The estate: phone servers and phones beside the encode servers, joined by server_id. Totals read the recording
 * rules; the join and the per-server table read the exporter's series (the rules do not keep server_id).
 */
function estateRow(d: DashboardBuilder): DashboardBuilder {
  const PHONES = `sum by (project_id, region, server_id) (cph_phones{${SERVER}`;
  return d
    .withRow(new RowBuilder('Estate: cloud-phone servers and phones'))
    .withPanel(
      stat('Cloud-phone servers', 'Cloud-phone servers of the selected projects and regions (ListCloudPhoneServers), as of the last poll.',
        `sum(project_region_status:cph_phone_servers:sum{${TARGET}})`, [[null, 'blue']]),
    )
    .withPanel(
      stat('Phone servers not running', 'Cloud-phone servers in any status but running. Alert: CphPhoneServerNotRunning (while their encode server runs).',
        `sum(project_region_status:cph_phone_servers:sum{${TARGET}, status!="running"}) or vector(0)`, [[null, 'green'], [1, 'orange']]),
    )
    .withPanel(
      stat('Cloud phones', 'Cloud phones of the selected projects and regions (ListCloudPhones), as of the last poll.',
        `sum(project_region_status:cph_phones:sum{${TARGET}})`, [[null, 'blue']]),
    )
    .withPanel(
      stat('Phones failed or abnormal', 'Phones abnormal or in a *_failed status. Alert: CphPhonesFailing.',
        `sum(project_region_status:cph_phones:sum{${TARGET}, ${FAILING_PHONES}}) or vector(0)`, [[null, 'green'], [1, 'red']]),
    )
    .withPanel(
      stat('Encode servers without phone server', 'server_ids named by encode servers but absent from the phone-server listing. Alert: CphEncodeServerWithoutPhoneServer.',
        `count(count by (project_id, region, server_id) (cph_encode_servers{${TARGET}}) unless on (project_id, region, server_id) cph_phone_servers) or vector(0)`,
        [[null, 'green'], [1, 'orange']]),
    )
    .withPanel(
      stat('Phone servers without encode server', 'Cloud-phone servers that no encode server names. Alert: CphPhoneServerWithoutEncodeServer.',
        `count(count by (project_id, region, server_id) (cph_phone_servers{${TARGET}}) unless on (project_id, region, server_id) cph_encode_servers) or vector(0)`,
        [[null, 'green'], [1, 'orange']]),
    )
    .withPanel(
      stackedByStatus(timeseries('Phones by status', 'Stacked count per phone status, from the recording rule project_region_status:cph_phones:sum.', 12), ESTATE_STATUS_COLORS)
        .withTarget(query('A', `sum by (status) (project_region_status:cph_phones:sum{${TARGET}})`, '{{status}}')),
    )
    .withPanel(
      stackedByStatus(timeseries('Phone servers by status', 'Stacked count per cloud-phone server status, from project_region_status:cph_phone_servers:sum.', 12), ESTATE_STATUS_COLORS)
        .withTarget(query('A', `sum by (status) (project_region_status:cph_phone_servers:sum{${TARGET}})`, '{{status}}')),
    )
    .withPanel(
      new TablePanelBuilder()
        .title('Per cloud-phone server: its encode servers and its phones')
        .description(
          'One row per server_id, joined across the three listings: the phone server\'s status (empty when it is missing ' +
            'from the listing), its encode servers (all, running) and its phones (all, running, failed or abnormal).',
        )
        .datasource(ds)
        .span(24)
        .height(10)
        .withTarget(instantTable('A', `max by (project_id, region, server_id, status) (cph_phone_servers{${SERVER}})`))
        .withTarget(instantTable('B', `sum by (project_id, region, server_id) (cph_encode_servers{${SERVER}})`))
        .withTarget(instantTable('C', `sum by (project_id, region, server_id) (cph_encode_servers{${SERVER}, status="running"})`))
        .withTarget(instantTable('D', `${PHONES}})`))
        .withTarget(instantTable('E', `${PHONES}, status="running"})`))
        .withTarget(instantTable('F', `${PHONES}, ${FAILING_PHONES}})`))
        .withTransformation({ id: 'merge', options: {} })
        .withTransformation({
          id: 'organize',
          options: {
            excludeByName: { Time: true, 'Value #A': true },
            renameByName: {
              status: 'phone server status',
              'Value #B': 'encode servers',
              'Value #C': 'encode running',
              'Value #D': 'phones',
              'Value #E': 'phones running',
              'Value #F': 'phones failed/abnormal',
            },
            indexByName: {},
          },
        })
        .sortBy([new common.TableSortByFieldStateBuilder().displayName('phones failed/abnormal').desc(true)])
        .filterable(true)
        .overrideByName('phones failed/abnormal', [
          { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } },
          { id: 'thresholds', value: { mode: ThresholdsMode.Absolute, steps: [{ value: null, color: 'green' }, { value: 1, color: 'red' }] } },
        ])
        .overrideByName('phone server status', [
          { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } },
          {
            id: 'mappings',
            value: Object.entries(ESTATE_STATUS_COLORS).map(([status, color]) => ({ type: MappingType.ValueToText, options: { [status]: { color, index: 0 } } })),
          },
        ]),
    );
}

function reachabilityRow(d: DashboardBuilder): DashboardBuilder {
  return d
    .withRow(new RowBuilder('Reachability (blackbox probes of public ports)'))
    .withPanel(
      timeseries(
        'Probed ports by type and result',
        'Public access ports of the selected cloud-phone servers probed by blackbox_exporter (probe_success), by port type: ' +
          'answering or not. ADB and VNC ports should not answer; H5 and app-server ports should.',
        12,
      )
        .unit('short')
        .decimals(0)
        .min(0)
        .fillOpacity(30)
        .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
        .withTarget(query('A', `count by (port_type) (probe_success{${SERVER}, exposure="public"} == 1)`, '{{port_type}} answers'))
        .withTarget(query('B', `count by (port_type) (probe_success{${SERVER}, exposure="public"} == 0)`, '{{port_type}} no answer'))
        .overrideByRegexp('^(adb|vnc) answers$', [fixedColor('red')])
        .overrideByRegexp('no answer$', [fixedColor('orange')]),
    )
    .withPanel(
      new TablePanelBuilder()
        .title('Public ADB/VNC ports that answer')
        .description(
          'ADB and VNC ports that accepted a connection from the blackbox exporter at the last probe ' +
            '(CphPublicAdbPortReachable, CphPublicVncPortReachable). Should be empty.',
        )
        .datasource(ds)
        .span(12)
        .height(8)
        .withTarget(
          instantTable(
            'A',
            `max by (project_id, region, server_id, encode_server_id, port_type, instance) (probe_success{${SERVER}, exposure="public", port_type=~"adb|vnc"}) == 1`,
          ),
        )
        .withTransformation(hideColumns('Time', 'Value'))
        .filterable(true)
        .overrideByName('port_type', [
          { id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.ColorBackground } },
          fixedColor('red'),
        ]),
    );
}

function healthRow(d: DashboardBuilder): DashboardBuilder {
  return d
    .withRow(new RowBuilder('Exporter health'))
    .withPanel(
      upDownTimeline('Target up', 'cph_up per target: whether its last poll succeeded.', ['down', 'up']).withTarget(
        query('A', `cph_up{${TARGET}}`, '{{project_id}} {{region}}'),
      ),
    )
    .withPanel(
      timeseries('Poll duration', 'Duration of the last poll of each target (cph_poll_duration_seconds).', 8)
        .unit('s')
        .min(0)
        .withTarget(query('A', `cph_poll_duration_seconds{${TARGET}}`, '{{project_id}} {{region}}')),
    )
    .withPanel(
      timeseries('Age of the last successful poll', 'Seconds since the last successful poll; CphDataStale fires above 10 minutes.', 8)
        .unit('s')
        .min(0)
        .thresholds(thresholds([null, 'green'], [600, 'red']))
        .thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line))
        .withTarget(query('A', `time() - cph_poll_last_success_timestamp_seconds{${TARGET}}`, '{{project_id}} {{region}}')),
    )
    .withPanel(
      timeseries('Poll failures by reason', 'Failed polls per target and reason (cph_poll_failures_total).', 8)
        .unit('short')
        .min(0)
        .drawStyle(common.GraphDrawStyle.Bars)
        .withTarget(
          query('A', `sum by (project_id, region, reason) (increase(cph_poll_failures_total{${TARGET}}[$__rate_interval]))`, '{{project_id}} {{region}} {{reason}}'),
        ),
    )
    .withPanel(
      upDownTimeline(
        'Configuration reload',
        'cph_config_last_reload_successful per exporter: whether its last reload of the configuration file (SIGHUP or ' +
          'POST /-/reload) was accepted. A rejected one leaves the previous configuration running. Alert: CphConfigReloadFailed.',
        ['rejected', 'loaded'],
      )
        .withTarget(query('A', 'cph_config_last_reload_successful', '{{instance}}')),
    )
    .withPanel(
      timeseries('Authentication back-off', 'Seconds until a target whose credentials were rejected is tried again (cph_target_auth_backoff_seconds).', 8)
        .unit('s')
        .min(0)
        .withTarget(query('A', `cph_target_auth_backoff_seconds{${TARGET}}`, '{{project_id}} {{region}}')),
    )
    .withPanel(
      new TablePanelBuilder()
        .title('Exporter instances')
        .description('Version and runtime of each exporter instance (cph_build_info).')
        .datasource(ds)
        .span(8)
        .height(8)
        .withTarget(instantTable('A', 'cph_build_info'))
        .withTransformation(hideColumns('Time', 'Value', '__name__')),
    )
    .withPanel(
      timeseries('API requests by code', 'ListEncodeServers calls per second and HTTP status, all targets of each exporter (the API client is shared).', 8)
        .unit('reqps')
        .min(0)
        .withTarget(query('A', 'sum by (code) (instance_operation_code:cph_api_requests:rate5m)', '{{code}}'))
        .overrideByName('429', [fixedColor('orange')]),
    )
    .withPanel(
      timeseries('API errors, throttles and retries', 'Non-2xx answers by code, retries by reason (throttled = 429) and the API error codes.', 8)
        .unit('reqps')
        .min(0)
        .withTarget(query('A', 'sum by (code) (instance_operation_code:cph_api_requests:rate5m{code!~"2.."})', 'HTTP {{code}}'))
        .withTarget(query('B', 'sum by (reason) (rate(cph_api_retries_total[$__rate_interval]))', 'retry {{reason}}'))
        .withTarget(query('C', 'sum by (error_code) (rate(cph_api_errors_total[$__rate_interval]))', 'error {{error_code}}'))
        .overrideByName('HTTP 429', [fixedColor('orange')])
        .overrideByName('retry throttled', [fixedColor('yellow')]),
    )
    .withPanel(
      timeseries('API request duration', 'ListEncodeServers latency quantiles (cph_api_request_duration_seconds).', 8)
        .unit('s')
        .min(0)
        .withTarget(query('A', 'histogram_quantile(0.5, sum by (le) (rate(cph_api_request_duration_seconds_bucket[$__rate_interval])))', 'p50'))
        .withTarget(query('B', 'histogram_quantile(0.99, sum by (le) (rate(cph_api_request_duration_seconds_bucket[$__rate_interval])))', 'p99')),
    );
}

function labelVariable(name: string, label: string, description: string, definition: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(ds)
    .query(definition)
    .definition(definition)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*');
}

/** Builds the dashboard model. */
export function buildDashboard(): Dashboard {
  let d = new DashboardBuilder('CPH encode servers')
    .uid(DASHBOARD_UID)
    .description('Huawei Cloud CPH encode servers and the health of cph-exporter. Generated by grafana/dashboard.ts; do not edit the JSON.')
    .tags(['cph', 'cph-exporter', 'huaweicloud'])
    .editable()
    .refresh('1m')
    .time({ from: 'now-6h', to: 'now' })
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(labelVariable('project_id', 'Project', 'Huawei Cloud project IDs polled by the exporter.', 'label_values(cph_up, project_id)'))
    .withVariable(labelVariable('region', 'Region', 'Regions of the selected projects.', 'label_values(cph_up{project_id=~"$project_id"}, region)'))
    .withVariable(
      labelVariable(
        'server_id',
        'Cloud-phone server',
        'Cloud-phone servers (those named by encode servers); scopes the "Encode servers" row and the per-server table only (the fleet and estate totals use recording rules per project and region).',
        'label_values(cph_encode_servers{project_id=~"$project_id", region=~"$region"}, server_id)',
      ),
    );
  d = fleetRow(d);
  d = serversRow(d);
  d = estateRow(d);
  d = reachabilityRow(d);
  d = healthRow(d);
  return d.build();
}

/** One PromQL query of one panel. */
export interface PanelQuery {
  panel: string;
  refId: string;
  expr: string;
  instant: boolean;
}

/** Every PromQL query of every panel of a dashboard, in panel order. */
export function panelQueries(dashboard: Dashboard = buildDashboard()): PanelQuery[] {
  const panels = (dashboard.panels ?? []).flatMap((p) => ('panels' in p && p.type === 'row' ? p.panels : [p])) as Panel[];
  return panels.flatMap((p) =>
    (p.targets ?? []).map((t) => {
      const target = t as { refId?: string; expr?: string; instant?: boolean };
      return { panel: p.title ?? '', refId: target.refId ?? '', expr: target.expr ?? '', instant: target.instant === true };
    }),
  );
}

/** The label_values() query of every query variable, by variable name. */
export function variableQueries(dashboard: Dashboard = buildDashboard()): Record<string, string> {
  const vars = dashboard.templating?.list ?? [];
  return Object.fromEntries(
    vars.filter((v) => v.type === 'query').map((v) => [v.name, typeof v.query === 'string' ? v.query : '']),
  );
}

/** The dashboard as committed: pretty JSON with a final newline. */
export function renderDashboard(dashboard: Dashboard = buildDashboard()): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}

import { RunFilterError, parseOrderBy, parseRunFilter, type FilterClause } from '../../domain/run-filter';

const VALID_ATTRIBUTES =
  "'{'run_id', 'run_name', 'user_id', 'status', 'artifact_uri', 'lifecycle_stage', 'start_time', 'end_time', 'created', 'Created', 'run name', 'Run name', 'Run Name'}'";

describe('parseRunFilter: valid filters', () => {
  const cases: Array<[string, FilterClause[]]> = [
    ['', []],
    ['   ', []],
    [
      "metrics.rmse < 1 and params.model_class = 'LogisticRegression'",
      [
        { type: 'metric', key: 'rmse', comparator: '<', value: 1 },
        { type: 'param', key: 'model_class', comparator: '=', value: 'LogisticRegression' },
      ],
    ],
    [
      'params.model = "LogisticRegression" AND params.lambda = "0.001" And metrics.error <= 0.05',
      [
        { type: 'param', key: 'model', comparator: '=', value: 'LogisticRegression' },
        { type: 'param', key: 'lambda', comparator: '=', value: '0.001' },
        { type: 'metric', key: 'error', comparator: '<=', value: 0.05 },
      ],
    ],
    ["attributes.status = 'FAILED'", [{ type: 'attribute', key: 'status', comparator: '=', value: 'FAILED' }]],
    ["status = 'FINISHED'", [{ type: 'attribute', key: 'status', comparator: '=', value: 'FINISHED' }]],
    ["attribute.user_id != 'bob'", [{ type: 'attribute', key: 'user_id', comparator: '!=', value: 'bob' }]],
    ["run.artifact_uri LIKE '%x%'", [{ type: 'attribute', key: 'artifact_uri', comparator: 'LIKE', value: '%x%' }]],
    ["attr.lifecycle_stage = 'deleted'", [{ type: 'attribute', key: 'lifecycle_stage', comparator: '=', value: 'deleted' }]],
    ["tags.mlflow.parentRunId = '8979459433a24a52ab3be87a229a9cdf'", [{ type: 'tag', key: 'mlflow.parentRunId', comparator: '=', value: '8979459433a24a52ab3be87a229a9cdf' }]],
    [`tags."mlflow.source.type" != 'NOTEBOOK'`, [{ type: 'tag', key: 'mlflow.source.type', comparator: '!=', value: 'NOTEBOOK' }]],
    ["tags.`user-name` = 'Tomas'", [{ type: 'tag', key: 'user-name', comparator: '=', value: 'Tomas' }]],
    ['metrics."model class" >= -1.5e3', [{ type: 'metric', key: 'model class', comparator: '>=', value: -1500 }]],
    ['`metrics`.`a b` > .5', [{ type: 'metric', key: 'a b', comparator: '>', value: 0.5 }]],
    ['params.`x.y` = \'1\'', [{ type: 'param', key: 'x.y', comparator: '=', value: '1' }]],
    ["attributes.run_id IN ('a1b2', 'c3d4')", [{ type: 'attribute', key: 'run_id', comparator: 'IN', value: ['a1b2', 'c3d4'] }]],
    ["attributes.run_id not in ('a1b2')", [{ type: 'attribute', key: 'run_id', comparator: 'NOT IN', value: ['a1b2'] }]],
    ["attributes.run_name LIKE 'bold-%'", [{ type: 'attribute', key: 'run_name', comparator: 'LIKE', value: 'bold-%' }]],
    ["attributes.`Run name` = 'x'", [{ type: 'attribute', key: 'run_name', comparator: '=', value: 'x' }]],
    ['attributes.created > 1711089570679', [{ type: 'attribute', key: 'start_time', comparator: '>', value: 1711089570679 }]],
    ['end_time <= 5', [{ type: 'attribute', key: 'end_time', comparator: '<=', value: 5 }]],
    ["params.optimizer ilike '%adam%'", [{ type: 'param', key: 'optimizer', comparator: 'ILIKE', value: '%adam%' }]],
    ["param.a = 'it''s'", [{ type: 'param', key: 'a', comparator: '=', value: "it's" }]],
    ["parameters.a = ''", [{ type: 'param', key: 'a', comparator: '=', value: '' }]],
    ['metric.a=1', [{ type: 'metric', key: 'a', comparator: '=', value: 1 }]],
    [
      "datasets.digest IN ('s8ds293b', 'jks834s2') and datasets.context = 'train'",
      [
        { type: 'dataset', key: 'digest', comparator: 'IN', value: ['s8ds293b', 'jks834s2'] },
        { type: 'dataset', key: 'context', comparator: '=', value: 'train' },
      ],
    ],
    ["dataset.name LIKE 'ds%'", [{ type: 'dataset', key: 'name', comparator: 'LIKE', value: 'ds%' }]],
  ];
  test.each(cases)('%s', (filter, expected) => {
    expect(parseRunFilter(filter)).toEqual(expected);
  });

  test('null and undefined match everything', () => {
    expect(parseRunFilter(undefined)).toEqual([]);
    expect(parseRunFilter(null)).toEqual([]);
  });
});

describe('parseRunFilter: invalid filters', () => {
  const cases: Array<[string, string]> = [
    ['metrics.a = 1 OR metrics.b = 2', "Invalid clause(s) in filter string: 'OR'"],
    ['(metrics.a = 1)', "Invalid clause(s) in filter string: '(metrics.a = 1)'"],
    ['metrics.a', "Invalid clause(s) in filter string: 'metrics.a'"],
    ['metrics.a 1', "Invalid clause(s) in filter string: 'metrics.a 1'"],
    ['metrics.a = 1 AND', "Invalid clause(s) in filter string: 'AND'"],
    ["params.a = 'x", "Invalid clause(s) in filter string: 'params.a = 'x'"],
    ['metrics.a = 1 metrics.b = 2', "Invalid clause(s) in filter string: 'metrics.a = 1 metrics.b = 2'"],
    ['metrics.a = 1; metrics.b = 2', "Search filter contained multiple expression 'metrics.a = 1; metrics.b = 2'. Provide AND-ed expression list."],
    ['foo.a = 1', "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"],
    ['Metrics.a = 1', "Invalid entity type 'Metrics'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"],
    ["attributes.foo = 'x'", `Invalid attribute key 'foo' specified. Valid keys are ${VALID_ATTRIBUTES}`],
    ["experiment_id = '1'", `Invalid attribute key 'experiment_id' specified. Valid keys are ${VALID_ATTRIBUTES}`],
    ["datasets.source = 'x'", "Invalid dataset key 'source' specified. Valid keys are '{'name', 'digest', 'context'}'"],
    ['metrics.a LIKE 1', "Invalid comparator 'LIKE' not one of '{'>', '>=', '!=', '=', '<', '<='}'"],
    ['metrics.a == 1', "Invalid comparator '==' not one of '{'>', '>=', '!=', '=', '<', '<='}'"],
    ["params.a > 'x'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE'}'"],
    ["tags.a <> 'x'", "Invalid comparator '<>' not one of '{'!=', '=', 'LIKE', 'ILIKE'}'"],
    ["params.a NOT LIKE 'x'", "Invalid comparator 'NOT LIKE' not one of '{'!=', '=', 'LIKE', 'ILIKE'}'"],
    ['start_time LIKE 5', "Invalid comparator 'LIKE' not one of '{'>', '>=', '!=', '=', '<', '<='}'"],
    ["status > 'x'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE'}'"],
    ["run_id > 'x'", "Invalid comparator '>' not one of '{'!=', '=', 'LIKE', 'ILIKE', 'IN', 'NOT IN'}'"],
    ["metrics.a = 'x'", "Expected numeric value type for metric. Found 'x'"],
    ['metrics.a = abc', 'Expected numeric value type for metric. Found abc'],
    ["start_time = 'x'", "Expected numeric value type for numeric attribute: start_time. Found 'x'"],
    ['params.a = 1', "Expected a quoted string value for parameter (e.g. 'my-value'). Got value 1"],
    ['tags.a = 1', "Expected a quoted string value for tag (e.g. 'my-value'). Got value 1"],
    ["tags.a IN ('x')", "Expected a quoted string value for tag (e.g. 'my-value'). Got value ('x')"],
    ['params.a = abc', 'Parameter value is either not quoted or unidentified quote types used for string value abc. Use either single or double quotes.'],
    ['status = 1', 'Expected a quoted string value or a list of quoted string values for attributes. Got value 1'],
    ["status IN ('a')", "Only the 'run_id' attribute supports comparison with a list of quoted string values."],
    ['datasets.name = 1', "Expected a quoted string value for dataset (e.g. 'my-value'). Got value 1"],
    ["1 = metrics.a", "Invalid comparison clause. Expected 'Identifier' found '1'"],
    ["run_id = ('a')", "Invalid comparator '=' for a list of values; only 'IN' and 'NOT IN' take a list."],
    ["run_id IN 'a'", "Comparator 'IN' expects a list of quoted string values, e.g. ('a', 'b'). Got value 'a'"],
    ['run_id IN ()', 'While parsing a list in the query, expected a non-empty list of string values, but got empty list'],
    ["run_id IN ('a', 1)", 'While parsing a list in the query, expected string value, punctuation, or whitespace, but got different type in list: 1'],
  ];
  test.each(cases)('%s', (filter, message) => {
    let error: unknown;
    try {
      parseRunFilter(filter);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(RunFilterError);
    expect((error as Error).message).toBe(message);
  });
});

describe('parseOrderBy', () => {
  test('identifiers, directions, aliases and quoting', () => {
    expect(
      parseOrderBy(['metrics.x DESC', 'params.`a b`', 'tags."k.v" asc', 'attributes.end_time ASC', 'created desc', '`Run name`', 'run_uuid']),
    ).toEqual([
      { type: 'metric', key: 'x', ascending: false },
      { type: 'param', key: 'a b', ascending: true },
      { type: 'tag', key: 'k.v', ascending: true },
      { type: 'attribute', key: 'end_time', ascending: true },
      { type: 'attribute', key: 'start_time', ascending: false },
      { type: 'attribute', key: 'run_name', ascending: true },
      { type: 'attribute', key: 'run_id', ascending: true },
    ]);
    expect(parseOrderBy(undefined)).toEqual([]);
    expect(parseOrderBy(['experiment_id'])).toEqual([{ type: 'attribute', key: 'experiment_id', ascending: true }]);
  });

  const invalid: Array<[string[], string | RegExp]> = [
    [['metrics.x DESC extra'], "Invalid order_by clause 'metrics.x DESC extra'. Could not be parsed."],
    [['metrics.x SIDEWAYS'], "Invalid order_by clause 'metrics.x SIDEWAYS'. Could not be parsed."],
    [[''], "Invalid order_by clause ''. Could not be parsed."],
    [['foo.x'], "Invalid entity type 'foo'. Valid values are ['metric', 'parameter', 'tag', 'attribute', 'dataset']"],
    [['attributes.bogus'], /^Invalid attribute key 'bogus' specified\. Valid keys are '\{'artifact_uri', /],
    [['metrics.x', 'metrics.x DESC'], "`order_by` contains duplicate fields: ['metrics.x', 'metrics.x DESC']"],
    [['datasets.name'], "Invalid identifier type 'dataset' in order_by clause 'datasets.name'"],
  ];
  test.each(invalid)('%p', (orderBy, message) => {
    expect(() => parseOrderBy(orderBy)).toThrow(RunFilterError);
    expect(() => parseOrderBy(orderBy)).toThrow(typeof message === 'string' ? new RunFilterError(message) : message);
  });
});

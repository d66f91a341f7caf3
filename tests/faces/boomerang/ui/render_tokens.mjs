// The token-reading code paths of Boomerang Flow's two web UIs, transcribed without React so
// that they run in Node on tokenward's answers. Each function names the upstream file and the
// code it follows; JSX becomes plain values (a cell's text, a list's items), and a call that
// would throw in the browser throws here too.
//
// Input (stdin): {"ui": <one of RENDERERS>, "data": <the PageToken the face answered>}.
// Output (stdout): the rendered rows as JSON. Exit status 1, with the error on stderr, when the
// UI's code throws.

const MONTHS = [
  "January", "February", "March", "April", "May", "June",
  "July", "August", "September", "October", "November", "December",
];

// moment(value).utc().startOf("day").format("MMMM DD, YYYY"), as both UIs format dates.
function formatDay(value) {
  const moment = new Date(value);
  if (Number.isNaN(moment.getTime())) return "Invalid date";
  const day = String(moment.getUTCDate()).padStart(2, "0");
  return `${MONTHS[moment.getUTCMonth()]} ${day}, ${moment.getUTCFullYear()}`;
}

// Carbon's DataTable: one row per item, keyed by `id`, one cell per header, valued item[key].
function dataTableRows(items, headers) {
  return items.map((item) => ({
    id: item.id,
    cells: headers.map((header) => ({ id: `${item.id}:${header.key}`, value: item[header.key] })),
  }));
}

// boomerang-io/flow.web src/Components/TokenSection/TokenSection.tsx and
// src/Features/GlobalTokens/GlobalTokens.tsx: HEADERS.
const HEADERS = [
  { header: "Name", key: "name", sortable: true },
  { header: "Status", key: "valid", sortable: true },
  { header: "Description", key: "description", sortable: true },
  { header: "Creation Date", key: "creationDate", sortable: true },
  { header: "Expiration Date", key: "expirationDate", sortable: true },
  { header: "", key: "delete", sortable: false },
];

// flow.web TokenSection.tsx and GlobalTokens.tsx: renderCell (the two are the same).
function renderCell(content, tokenItemId, cellIndex, value) {
  const tokenDetails = content.find((token) => token.id === tokenItemId);
  const column = HEADERS[cellIndex];
  switch (column.key) {
    case "permissions":
      return value ? tokenDetails.permissions.join(", ") : "---";
    case "valid":
      return value ? "Active" : "Inactive";
    case "creationDate":
    case "expirationDate":
      return value ? formatDay(value) : "---";
    case "delete":
      // <DeleteToken tokenItem={tokenDetails} deleteToken={deleteToken} />
      return tokenDetails && tokenDetails.id ? `DeleteToken(${tokenDetails.id})` : "";
    default:
      return value || "---";
  }
}

// flow.web TokenSection.tsx and GlobalTokens.tsx: TokenPermissions.
function TokenPermissions({ permissions }) {
  return permissions.map(({ scope, principal, actions }) => ({
    scope,
    principal,
    actions: actions.map((action) => action),
  }));
}

// flow.web TokenSection.tsx and GlobalTokens.tsx: the table body, a row and its expanded row.
function renderTable(content) {
  return dataTableRows(content, HEADERS).map((row) => {
    const cells = row.cells.map((cell, cellIndex) => renderCell(content, row.id, cellIndex, cell.value));
    const permissions = content.find((t) => t.id === row.id).permissions;
    const expanded =
      permissions.length > 0
        ? TokenPermissions({ permissions: permissions.map((p, i) => ({ id: `${row.id}-${i}`, ...p })) })
        : "Permissions detail unavailable";
    return { cells, expanded };
  });
}

// flow.web src/Components/TokenSection/TokenSection.tsx: `getTokensQuery.data.content.length
// > 0 && <DataTable rows={getTokensQuery.data.content} ...>`.
function flowWebTokenSection(data) {
  return data.content.length > 0 ? renderTable(data.content) : [];
}

// flow.web src/Features/GlobalTokens/GlobalTokens.tsx: `tokensData?.content?.length > 0 ?
// <DataTable rows={arrayPagination(tokensData?.content, ...)} ...> : <EmptyState />`. The
// page's client-side paging and sorting (`arrayPagination`, `sortByProp` of Utils/arrayHelper)
// are not transcribed: their source was not at hand. Rows render in the answer's order.
function flowWebGlobalTokens(data) {
  return data?.content?.length > 0 ? renderTable(data.content) : "EmptyState(No tokens found)";
}

// boomerang-io/flow.client.web (release-4.0.0) src/Components/TokenSection/TokenSection.tsx:
// `getTokensQuery.data.content?.map(token => <TokenRow tokenData={token} .../>)`.
function flowClientWebTokenSection(data) {
  return data.content?.map((tokenData) => ({
    cells: [
      tokenData.name,
      tokenData.valid ? "Active" : "Inactive",
      tokenData.creationDate ? formatDay(tokenData.creationDate) : "---",
      tokenData.expirationDate ? formatDay(tokenData.expirationDate) : "---",
      tokenData.permissions ? tokenData.permissions.join(", ") : "---",
      `DeleteToken(${tokenData.id})`,
    ],
  }));
}

const RENDERERS = {
  "flow.web/TokenSection": flowWebTokenSection,
  "flow.web/GlobalTokens": flowWebGlobalTokens,
  "flow.client.web/TokenSection": flowClientWebTokenSection,
};

let input = "";
process.stdin.setEncoding("utf8");
for await (const chunk of process.stdin) input += chunk;
const { ui, data } = JSON.parse(input);
try {
  process.stdout.write(JSON.stringify(RENDERERS[ui](data)));
} catch (error) {
  process.stderr.write(`${ui} threw: ${error.stack}\n`);
  process.exit(1);
}

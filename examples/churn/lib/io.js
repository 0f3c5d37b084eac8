'use strict';
// JSON in and out. Outputs are paths like out/model.json relative to the stage's working
// directory, so the parent folder is created first.
const fs = require('node:fs');
const path = require('node:path');

function readJson(file, what = 'file') {
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${what} ${file}: ${err.code || err.message}`, { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} ${file} is not valid JSON: ${err.message}`, { cause: err });
  }
}

/** Writes atomically (temp file + rename) so a crashed stage never leaves half a file behind. */
function writeJson(file, value) {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value) + '\n');
  fs.renameSync(tmp, file);
  return fs.statSync(file).size;
}

/** Loads a data set written by prepare.js and checks its shape. */
function readDataset(file) {
  const data = readJson(file, 'data set');
  const ok =
    data &&
    Array.isArray(data.features) &&
    ['train', 'test'].every((s) => data[s] && Array.isArray(data[s].x) && Array.isArray(data[s].y) && data[s].x.length === data[s].y.length);
  if (!ok) throw new Error(`data set ${file} does not have the shape {features, train:{x,y}, test:{x,y}}`);
  return data;
}

module.exports = { readJson, writeJson, readDataset };

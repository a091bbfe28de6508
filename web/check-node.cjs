// Fails early, saying how to get it, when this Node.js is older than the one the locked
// packages need (package.json's "engines", the one home of that version).
const need = require("./package.json").engines.node;
const minimum = Number(need.match(/\d+/)[0]);
const have = process.versions.node;
if (Number(have.split(".")[0]) < minimum) {
  console.error(
    `Node.js ${need} is needed to build web/ (this is ${have}): install a newer one from ` +
      "your system's packages, https://nodejs.org/ or a version manager such as nvm.",
  );
  process.exit(1);
}

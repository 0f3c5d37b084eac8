'use strict';
// Seeded pseudo-random numbers, so a data set is a pure function of (rows, seed).

/** mulberry32: a small, fast 32-bit PRNG; returns a function yielding floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generator with the helpers the scripts need. */
function createRandom(seed) {
  const uniform = mulberry32(seed);
  let spare = null;
  const rng = {
    uniform,
    /** A float in [lo, hi). */
    between(lo, hi) {
      return lo + (hi - lo) * uniform();
    },
    /** An integer in [lo, hi], both ends included. */
    int(lo, hi) {
      return lo + Math.floor(uniform() * (hi - lo + 1));
    },
    bernoulli(p) {
      return uniform() < p ? 1 : 0;
    },
    /** Standard normal through Box-Muller (the second value is kept for the next call). */
    normal(mean = 0, sd = 1) {
      if (spare !== null) {
        const z = spare;
        spare = null;
        return mean + sd * z;
      }
      let u = 0;
      while (u === 0) u = uniform();
      const v = uniform();
      const r = Math.sqrt(-2 * Math.log(u));
      spare = r * Math.sin(2 * Math.PI * v);
      return mean + sd * r * Math.cos(2 * Math.PI * v);
    },
    /** Poisson through Knuth's multiplication method (fine for the small rates used here). */
    poisson(lambda) {
      const limit = Math.exp(-lambda);
      let k = 0;
      let p = uniform();
      while (p > limit) {
        k++;
        p *= uniform();
      }
      return k;
    },
    /** Fisher-Yates, in place; returns the array. */
    shuffle(array) {
      for (let i = array.length - 1; i > 0; i--) {
        const j = Math.floor(uniform() * (i + 1));
        const tmp = array[i];
        array[i] = array[j];
        array[j] = tmp;
      }
      return array;
    },
  };
  return rng;
}

module.exports = { mulberry32, createRandom };

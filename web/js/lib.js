// One place that wires the vendored libraries: Preact + hooks, bound to htm templates.
import { h, render, Fragment, Component } from '/vendor/preact-10.27.2.module.js';
import { useState, useEffect, useRef, useMemo, useCallback } from '/vendor/preact-hooks-10.27.2.module.js';
import htm from '/vendor/htm-3.1.1.module.js';

export const html = htm.bind(h);
export { h, render, Fragment, Component, useState, useEffect, useRef, useMemo, useCallback };

export const id = 9;
export const ids = [9];
export const modules = {

/***/ 9009:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony import */ var node_v8__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(8877);
/* harmony import */ var node_v8__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_v8__WEBPACK_IMPORTED_MODULE_0__);

/*
 * Keeps V8's young generation at the size it starts with. Node 24 lets it grow to 64 MiB per
 * semi-space on a machine with a few GiB of memory, and it grows with every object that outlives
 * a scavenge: checking a bundle of 100,000 entries took it there, 128 MiB of the step's peak
 * (docs/decisions.md, "Memory"). Left at its first size, the peak of a 1 GiB deploy fell by
 * about 120 MiB and the step was no slower. Imported first by each entry, before any work.
 */
node_v8__WEBPACK_IMPORTED_MODULE_0___default().setFlagsFromString('--semi-space-growth-factor=1');


/***/ })

};

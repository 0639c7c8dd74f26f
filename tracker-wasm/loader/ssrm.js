// ssrm.js: the classic-script loader of the ssrm tracker (tracker-wasm/src/lib.rs, "How it works").
// scripts/build-tracker.sh pastes wasm-bindgen's no-modules glue in place of the GLUE marker; the
// function around everything keeps `wasm_bindgen` local, so the only global is `_ssrm`. This file
// must never throw into the page: every failure is one console.warn.
(function () {
  var queue = (window._ssrm = window._ssrm || []);
  // A second copy of the snippet: the first one runs the queue.
  if (queue.ssrm) return;
  queue.ssrm = 1;
  var script = document.currentScript || document.querySelector('script[src*="ssrm.js"]');
  // [, resolver base ending with "/", "?version" or undefined]
  var source = /^([^?#]*\/)[^\/?#]*(\?[^#]*)?/.exec(script ? script.src : '');
  if (!source) return console.warn('ssrm: cannot tell the address ssrm.js was loaded from');
  // `ssrm.js?site=KEY` is a setSite before the queued commands (a queued setSite still wins).
  var key = /[?&]site=([^&]+)/.exec(source[2]);
  if (key) queue.unshift(['setSite', key[1]]);
  var warn = function (error) {
    console.warn('ssrm:', error);
  };

  /*GLUE*/

  wasm_bindgen({ module_or_path: source[1] + 'ssrm_bg.wasm' + (source[2] || '') }).then(
    function () {
      // Filled by boot() with run(command) and getSuid() before the queued commands run.
      var hooks = {};
      var object = {
        ssrm: 1,
        push: function () {
          for (var i = 0; i < arguments.length; i++) {
            try {
              hooks.run(arguments[i]);
            } catch (error) {
              warn(error);
            }
          }
        },
        getSuid: function () {
          return hooks.getSuid();
        }
      };
      try {
        wasm_bindgen.boot(source[1], object, hooks);
      } catch (error) {
        warn(error);
      }
    },
    function (error) {
      console.warn(
        "ssrm: the tracker's WebAssembly did not start, so nothing is tracked (does the " +
          "page's Content-Security-Policy allow 'wasm-unsafe-eval'?); commands stay queued in _ssrm.",
        error
      );
    }
  );
})();

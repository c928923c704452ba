/**
 * The admin console's stylesheet and script, sent inline under the response's CSP nonce (no external requests, no
 * inline handlers: the script finds its elements by data attributes). Colours meet WCAG AA contrast on white
 * (text #1f2933 ≈ 14:1, muted #52606d ≈ 6.4:1, links/buttons #1d4ed8 ≈ 6.7:1, danger #b42318 ≈ 6.1:1).
 */
export const consoleStyles = `
*,*::before,*::after{box-sizing:border-box}
body{margin:0;overflow-wrap:break-word;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
a{color:#1d4ed8}a:hover{text-decoration:none}
:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
.sr-only{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem 1rem;z-index:10}.skip:focus{left:1rem}
.top{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem 1rem;padding:.75rem 1.5rem;background:#fff;border-bottom:1px solid #d9e2ec}
.brand{font-weight:650;color:#102a43}.brand span{color:#52606d;font-weight:400}
.who{display:flex;align-items:center;gap:.75rem;color:#52606d;font-size:.9rem}
.shell{display:grid;grid-template-columns:13.5rem minmax(0,1fr);min-height:calc(100vh - 3.5rem)}.shell>*{min-width:0}
.who,.brand{min-width:0;overflow-wrap:anywhere}
nav.side{background:#fff;border-right:1px solid #d9e2ec;padding:1rem .5rem}
nav.side ul{list-style:none;margin:0;padding:0}
nav.side a{display:block;padding:.5rem .75rem;border-radius:6px;color:#243b53;text-decoration:none}
nav.side a:hover{background:#f0f4f8}nav.side a[aria-current=page]{background:#e6edfb;color:#1d4ed8;font-weight:600}
main{padding:1.5rem 2rem 3rem;max-width:72rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:0 0 .75rem}h3{font-size:1rem;margin:1rem 0 .5rem}
.lead{color:#52606d;margin:0 0 1.5rem}
.card{background:#fff;border:1px solid #d9e2ec;border-radius:10px;padding:1.25rem 1.25rem;margin:0 0 1.25rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(14rem,1fr));gap:1rem;margin-bottom:1.25rem}
.stat{background:#fff;border:1px solid #d9e2ec;border-radius:10px;padding:1rem}
.stat .n{font-size:1.6rem;font-weight:650;color:#102a43}.stat .l{color:#52606d;font-size:.9rem}
table{width:100%;border-collapse:collapse;font-size:.93rem}
th,td{text-align:left;padding:.55rem .6rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{color:#52606d;font-weight:600;font-size:.85rem}
.table-wrap{overflow-x:auto}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em;word-break:break-all}
.badge{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;border:1px solid #bcccdc;color:#334e68;background:#f0f4f8}
.badge.ok{border-color:#8fd3a9;background:#e3f9e5;color:#0e5e2a}.badge.warn{border-color:#f0c36d;background:#fffbea;color:#7a4a00}
.badge.bad{border-color:#f5a3a3;background:#ffeeee;color:#8a1c1c}
button,.button{font:inherit;display:inline-block;padding:.45rem .9rem;border-radius:6px;border:1px solid #1d4ed8;background:#1d4ed8;color:#fff;cursor:pointer;text-decoration:none;line-height:1.3}
button.secondary,.button.secondary{background:#fff;color:#1d4ed8}
button.danger{background:#fff;color:#b42318;border-color:#b42318}
button:hover{filter:brightness(.95)}
form.inline{display:inline}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
.check label,label.check{display:inline;font-weight:400;margin:0 0 0 .35rem}
.hint{color:#52606d;font-size:.88rem;margin:.2rem 0 0}
input[type=text],input[type=url],input[type=search],input[type=email],input[type=password],input[type=datetime-local],select,textarea{font:inherit;width:100%;max-width:34rem;padding:.45rem .55rem;border:1px solid #9aa5b1;border-radius:6px;background:#fff;color:#1f2933}
textarea{min-height:7rem;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
fieldset{border:1px solid #d9e2ec;border-radius:8px;padding:.75rem 1rem;margin:.75rem 0}
legend{font-weight:600;padding:0 .25rem}
.row{display:flex;flex-wrap:wrap;gap:.75rem;align-items:flex-end}.row>div{flex:1 1 12rem}
.copy-field{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;margin:.25rem 0 .75rem}
.copy-field code{background:#f0f4f8;border:1px solid #d9e2ec;border-radius:6px;padding:.4rem .55rem;flex:1 1 18rem}
.notice{border-radius:8px;padding:.75rem 1rem;margin:0 0 1.25rem;border:1px solid #8fd3a9;background:#e3f9e5}
.notice.error{border-color:#f5a3a3;background:#ffeeee}.notice.warn{border-color:#f0c36d;background:#fffbea}
.secret{border:2px solid #1d4ed8;background:#eef4ff}
.picker{max-height:14rem;overflow:auto;border:1px solid #d9e2ec;border-radius:6px;padding:.5rem;max-width:34rem;background:#fff}
.picker li{list-style:none;padding:.15rem 0}.picker ul{margin:0;padding:0}
details{margin:.25rem 0}summary{cursor:pointer;color:#1d4ed8}
pre{background:#f0f4f8;border:1px solid #d9e2ec;border-radius:6px;padding:.75rem;overflow:auto;font-size:.82rem;max-height:20rem}
.diff span{display:block}.diff .add{background:#e3f9e5;color:#0e5e2a}.diff .del{background:#ffeeee;color:#8a1c1c}.diff .hdr{color:#486581;font-weight:600}
.muted{color:#52606d}
.steps{padding-left:1.2rem}.steps li{margin:.3rem 0}
.tabs{display:flex;gap:.5rem;flex-wrap:wrap;margin:0 0 1rem}
@media (max-width:50rem){.shell{grid-template-columns:1fr}nav.side{border-right:0;border-bottom:1px solid #d9e2ec;padding:.5rem}
nav.side ul{display:flex;flex-wrap:wrap;gap:.25rem}main{padding:1rem}}
`;

/**
 * Progressive enhancement only: every form works without it. Copy buttons (`data-copy` = id of the element whose text
 * is copied), list filters (`data-filter` = id of the list whose items are shown or hidden), confirmations
 * (`data-confirm` on a form), the SAML metadata file reader (`data-file-into` = id of the textarea to fill), and
 * the attribute-mapping live preview (`data-mapping-preview` = the JSON preview URL; each `data-map-field` input
 * updates the `output[data-preview-field]` of its field, computed by the server with the login's own mapping).
 */
export const consoleScript = `
(function(){
  function announce(el,msg){var s=document.getElementById('live');if(s){s.textContent='';setTimeout(function(){s.textContent=msg},30)}}
  document.querySelectorAll('button[data-copy]').forEach(function(b){
    b.hidden=false;
    b.addEventListener('click',function(){
      var src=document.getElementById(b.getAttribute('data-copy'));if(!src)return;
      var text=src.textContent.trim();
      var done=function(){var old=b.textContent;b.textContent='Copied';announce(b,'Copied to the clipboard');setTimeout(function(){b.textContent=old},1500)};
      if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(text).then(done,function(){select(src)})}else{select(src);try{document.execCommand('copy');done()}catch(e){}}
    });
  });
  function select(el){var r=document.createRange();r.selectNodeContents(el);var s=window.getSelection();s.removeAllRanges();s.addRange(r)}
  document.querySelectorAll('input[data-filter]').forEach(function(i){
    var list=document.getElementById(i.getAttribute('data-filter'));if(!list)return;
    i.addEventListener('input',function(){
      var q=i.value.trim().toLowerCase();var shown=0;
      list.querySelectorAll('[data-filter-item]').forEach(function(li){var hit=!q||li.textContent.toLowerCase().indexOf(q)>=0;li.hidden=!hit;if(hit)shown++});
      announce(i,shown+' shown');
    });
  });
  document.querySelectorAll('form[data-confirm]').forEach(function(f){
    f.addEventListener('submit',function(e){if(!window.confirm(f.getAttribute('data-confirm')))e.preventDefault()});
  });
  document.querySelectorAll('input[type=file][data-file-into]').forEach(function(i){
    i.addEventListener('change',function(){
      var t=document.getElementById(i.getAttribute('data-file-into'));var f=i.files&&i.files[0];if(!t||!f)return;
      f.text().then(function(x){t.value=x;announce(i,'Metadata file loaded')});
    });
  });
  document.querySelectorAll('form[data-mapping-preview]').forEach(function(f){
    var meta=document.querySelector('meta[name=csrf-token]');var timer;
    function show(v){return v==null?'\u2014':Array.isArray(v)?(v.join(', ')||'\u2014'):String(v)}
    function run(){
      var mapping={};
      f.querySelectorAll('input[data-map-field]').forEach(function(i){var n=i.value.split(/[\\s,]+/).filter(Boolean);if(n.length)mapping[i.getAttribute('data-map-field')]=n});
      fetch(f.getAttribute('data-mapping-preview'),{method:'POST',credentials:'same-origin',headers:{'content-type':'application/json','x-csrf-token':meta?meta.content:''},body:JSON.stringify({connection:f.getAttribute('data-connection'),mapping:mapping})})
        .then(function(r){return r.ok?r.json():null}).then(function(j){
          if(!j)return;
          Object.keys(j.fields).forEach(function(k){var o=f.querySelector('output[data-preview-field="'+k+'"]');if(o)o.textContent=show(j.fields[k])});
          announce(f,'Preview updated');
        }).catch(function(){});
    }
    f.querySelectorAll('input[data-map-field]').forEach(function(i){i.addEventListener('input',function(){clearTimeout(timer);timer=setTimeout(run,300)})});
  });
})();
`;

// The filters' disclosure (a <details> holding the facets). On wide screens it is a column beside
// the results, always open. On phones it opens as a sheet over the lower half of the screen, with
// the results it changes kept in view above it and a button that says how many there are now.

export function createFilterPanel({ details, activeCount, done, wide, i18n }) {
  const summary = details.querySelector('summary');
  const isSheet = () => details.open && !wide.matches;

  function close() {
    details.open = false;
    summary.focus();
  }

  details.open = wide.matches;
  wide.addEventListener('change', () => {
    details.open = wide.matches;
  });
  details.addEventListener('toggle', () => {
    // the sheet covers the lower half: bring the results' top up above it
    if (isSheet()) summary.scrollIntoView({ block: 'start' });
  });
  details.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && isSheet()) {
      event.preventDefault();
      close();
    }
  });
  done.addEventListener('click', close);

  return {
    /** The number of active filters, shown next to "Filters". */
    setActive(n) {
      activeCount.textContent = n ? `(${n})` : '';
    },
    /** The result count of the search on screen, on the sheet's button. */
    render(data) {
      done.textContent = i18n.t('showResults', { n: data.total ?? 0 });
    },
  };
}

<?php
/**
 * Tools → Privacy Sync's views (tabs): Overview (Wpprivsync_Admin), Requests, Person,
 * Dashboard and Schedule, each in its own class. Every view reads what the daemon sent or the
 * plugin holds; none calls the daemon or a remote system.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Tab navigation and dispatch.
 */
class Wpprivsync_Admin_Tabs {

	/** Screen option (user meta) of the Requests view's rows per page. */
	const PER_PAGE_OPTION = 'wpprivsync_requests_per_page';

	/**
	 * Loads the list table class (WP_List_Table is admin-only, loaded when a view needs it).
	 */
	public static function load_table() {
		require_once __DIR__ . '/class-wpprivsync-admin-requests-table.php';
	}

	/**
	 * Saves the rows-per-page screen option (1..500).
	 *
	 * @param mixed  $keep   Value to keep (false: do not save).
	 * @param string $option Option.
	 * @param mixed  $value  Value.
	 * @return mixed
	 */
	public static function save_screen_option( $keep, $option, $value ) {
		return self::PER_PAGE_OPTION === $option ? max( 1, min( 500, (int) $value ) ) : $keep;
	}

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		Wpprivsync_Admin_Person::register();
		add_action( 'load-tools_page_' . Wpprivsync_Admin::PAGE, array( __CLASS__, 'on_load' ) );
		add_filter( 'set_screen_option_' . self::PER_PAGE_OPTION, array( __CLASS__, 'save_screen_option' ), 10, 3 );
		add_filter( 'set-screen-option', array( __CLASS__, 'save_screen_option' ), 10, 3 );
	}

	/**
	 * The views: slug => label.
	 *
	 * @return array
	 */
	public static function tabs() {
		return array(
			'overview'  => __( 'Overview', 'wpprivsync' ),
			'requests'  => __( 'Requests', 'wpprivsync' ),
			'person'    => __( 'Find a person', 'wpprivsync' ),
			'dashboard' => __( 'Dashboard', 'wpprivsync' ),
			'schedule'  => __( 'Schedule', 'wpprivsync' ),
		);
	}

	/**
	 * The current view.
	 *
	 * @return string
	 */
	public static function current() {
		$tab = isset( $_GET['tab'] ) ? sanitize_key( wp_unslash( $_GET['tab'] ) ) : 'overview'; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- navigation.
		return isset( self::tabs()[ $tab ] ) ? $tab : 'overview';
	}

	/**
	 * A view's URL.
	 *
	 * @param string $tab  View.
	 * @param array  $args More query args.
	 * @return string
	 */
	public static function url( $tab, array $args = array() ) {
		return add_query_arg(
			array_merge(
				array(
					'page' => Wpprivsync_Admin::PAGE,
					'tab'  => $tab,
				),
				$args
			),
			admin_url( 'tools.php' )
		);
	}

	/**
	 * Screen Options of the Requests view.
	 */
	public static function on_load() {
		if ( 'requests' === self::current() && Wpprivsync_Admin_Caps::can_open() ) {
			self::load_table();
			Wpprivsync_Admin_Requests_Table::add_screen_options();
		}
	}

	/**
	 * A time the daemon sent (ISO 8601) or the plugin stored (UTC MySQL datetime) in the site's
	 * format and time zone; the text as it is when it is not a time.
	 *
	 * @param mixed $value Time.
	 * @return string
	 */
	public static function when( $value ) {
		if ( ! is_string( $value ) || '' === $value ) {
			return '—';
		}
		$ts = strtotime( preg_match( '/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/', $value ) ? $value . ' UTC' : $value );
		return false === $ts ? $value : wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), $ts );
	}

	/**
	 * The tab bar.
	 *
	 * @param string $active Active view.
	 */
	public static function nav( $active ) {
		echo '<nav class="nav-tab-wrapper wp-clearfix" id="wpprivsync-tabs" aria-label="' . esc_attr__( 'Privacy Sync views', 'wpprivsync' ) . '">';
		foreach ( self::tabs() as $slug => $label ) {
			$current = $slug === $active;
			echo '<a href="' . esc_url( self::url( $slug ) ) . '" id="' . esc_attr( 'wpprivsync-tab-' . $slug ) . '" class="nav-tab' . ( $current ? ' nav-tab-active' : '' ) . '"' . ( $current ? ' aria-current="page"' : '' ) . '>' . esc_html( $label ) . '</a>';
		}
		echo '</nav>';
	}

	/**
	 * Renders a view other than the overview.
	 *
	 * @param string $tab View.
	 */
	public static function render( $tab ) {
		echo '<div class="wrap" id="wpprivsync-admin" data-tab="' . esc_attr( $tab ) . '">';
		echo '<h1>' . esc_html__( 'Privacy Sync', 'wpprivsync' ) . '</h1>';
		self::nav( $tab );
		switch ( $tab ) {
			case 'requests':
				self::render_requests();
				break;
			case 'person':
				if ( class_exists( 'Wpprivsync_Admin_Person' ) ) {
					Wpprivsync_Admin_Person::render();
				}
				break;
			case 'dashboard':
				if ( class_exists( 'Wpprivsync_Admin_Dashboard' ) ) {
					Wpprivsync_Admin_Dashboard::render();
				}
				break;
			case 'schedule':
				if ( class_exists( 'Wpprivsync_Admin_Schedule' ) ) {
					Wpprivsync_Admin_Schedule::render();
				}
				break;
		}
		echo '</div>';
	}

	/**
	 * The Requests view.
	 */
	private static function render_requests() {
		self::load_table();
		$table = new Wpprivsync_Admin_Requests_Table();
		$table->prepare_items();
		echo '<h2 class="screen-reader-text">' . esc_html__( 'Requests', 'wpprivsync' ) . '</h2>';
		echo '<p class="description">' . esc_html__( 'Every request the daemon reported, newest first. Overdue rows say "overdue by" and rows due within 7 days say how long is left, besides their colour.', 'wpprivsync' ) . '</p>';
		echo '<form method="get" id="wpprivsync-requests-form">';
		echo '<input type="hidden" name="page" value="' . esc_attr( Wpprivsync_Admin::PAGE ) . '" />';
		echo '<input type="hidden" name="tab" value="requests" />';
		$table->display();
		echo '</form>';
	}
}

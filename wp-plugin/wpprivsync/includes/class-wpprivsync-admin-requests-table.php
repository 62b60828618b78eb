<?php
/**
 * Tools → Privacy Sync → Requests: every request the daemon mirrored into the plugin's table
 * (Wpprivsync_Requests_Mirror), as a WordPress list table: sortable, filterable by action,
 * status, system and source, paged with SQL LIMIT/OFFSET over indexed columns, rows per page
 * in Screen Options.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

if ( ! class_exists( 'WP_List_Table' ) ) {
	require_once ABSPATH . 'wp-admin/includes/class-wp-list-table.php';
}

/**
 * The requests list table.
 */
class Wpprivsync_Admin_Requests_Table extends WP_List_Table {

	/** Screen option (user meta) of the rows per page. */
	const PER_PAGE_OPTION = Wpprivsync_Admin_Tabs::PER_PAGE_OPTION;
	/** Open requests due within this many days are marked as near their deadline. */
	const NEAR_DAYS = 7;
	/** The systems a request can involve (the system filter's choices). */
	const SYSTEMS = array( 'wordpress', 'woocommerce', 'activecampaign', 'webinarjam', 'thrive', 'comments', 'wpprivsync' );
	/** Where requests come from (the source filter's choices). */
	const SOURCES = array( 'event', 'admin-page', 'cli', 'reconcile', 'retention' );

	/**
	 * Set up.
	 */
	public function __construct() {
		parent::__construct(
			array(
				'singular' => 'wpprivsync-request',
				'plural'   => 'wpprivsync-requests',
				'ajax'     => false,
			)
		);
	}

	/**
	 * Screen Options: rows per page (on the Requests tab's load).
	 */
	public static function add_screen_options() {
		add_screen_option(
			'per_page',
			array(
				'label'   => __( 'Requests per page', 'wpprivsync' ),
				'default' => 20,
				'option'  => self::PER_PAGE_OPTION,
			)
		);
	}

	/**
	 * The filter values of this request (sanitised, whitelisted).
	 *
	 * @return array
	 */
	public static function filters() {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- a read-only list filter.
		$get     = static function ( $key ) {
			return isset( $_GET[ $key ] ) ? sanitize_text_field( wp_unslash( $_GET[ $key ] ) ) : '';
		};
		$filters = array(
			'action' => sanitize_key( $get( 'wpprivsync_action' ) ),
			'status' => sanitize_key( $get( 'wpprivsync_status' ) ),
			'system' => in_array( $get( 'wpprivsync_system' ), self::SYSTEMS, true ) ? $get( 'wpprivsync_system' ) : '',
			'source' => in_array( $get( 'wpprivsync_source' ), self::SOURCES, true ) ? $get( 'wpprivsync_source' ) : '',
		);
		$hash    = strtolower( $get( 'wpprivsync_hash' ) );
		if ( preg_match( '/^[0-9a-f]{16,128}$/', $hash ) ) {
			$filters['email_hash'] = $hash;
		}
		// phpcs:enable
		return $filters;
	}

	/**
	 * Columns.
	 *
	 * @return array
	 */
	public function get_columns() {
		return array(
			'id'             => __( 'Request', 'wpprivsync' ),
			'action'         => __( 'Action', 'wpprivsync' ),
			'person'         => __( 'Person (hash)', 'wpprivsync' ),
			'source'         => __( 'Source', 'wpprivsync' ),
			'received_at'    => __( 'Received', 'wpprivsync' ),
			'due_at'         => __( 'Due', 'wpprivsync' ),
			'status'         => __( 'Status', 'wpprivsync' ),
			'systems'        => __( 'Systems', 'wpprivsync' ),
			'retained_until' => __( 'Retained until / export', 'wpprivsync' ),
			'tasks'          => __( 'Manual tasks', 'wpprivsync' ),
		);
	}

	/**
	 * Sortable columns.
	 *
	 * @return array
	 */
	protected function get_sortable_columns() {
		return array(
			'id'          => array( 'id', true ),
			'action'      => array( 'action', false ),
			'received_at' => array( 'received_at', true ),
			'due_at'      => array( 'due_at', false ),
			'status'      => array( 'status', false ),
		);
	}

	/**
	 * The primary column (row actions and the small-screen toggle).
	 *
	 * @return string
	 */
	protected function get_default_primary_column_name() {
		return 'id';
	}

	/**
	 * Loads one page of rows.
	 */
	public function prepare_items() {
		// phpcs:disable WordPress.Security.NonceVerification.Recommended -- sorting a read-only list.
		$orderby = isset( $_GET['orderby'] ) ? sanitize_key( wp_unslash( $_GET['orderby'] ) ) : 'received_at';
		$order   = isset( $_GET['order'] ) && 'asc' === strtolower( sanitize_key( wp_unslash( $_GET['order'] ) ) ) ? 'asc' : 'desc';
		// phpcs:enable
		if ( ! isset( Wpprivsync_Requests_Mirror::SORTABLE[ $orderby ] ) ) {
			$orderby = 'received_at';
		}
		$per_page    = $this->get_items_per_page( self::PER_PAGE_OPTION, 20 );
		$result      = Wpprivsync_Requests_Mirror::page( self::filters(), $orderby, $order, $per_page, $this->get_pagenum() );
		$this->items = $result['rows'];
		$this->set_pagination_args(
			array(
				'total_items' => $result['total'],
				'per_page'    => $per_page,
				'total_pages' => (int) ceil( $result['total'] / max( 1, $per_page ) ),
			)
		);
		$this->_column_headers = array( $this->get_columns(), array(), $this->get_sortable_columns(), 'id' );
	}

	/**
	 * Nothing mirrored (yet).
	 */
	public function no_items() {
		esc_html_e( 'No requests: the daemon mirrors them here after its heartbeat.', 'wpprivsync' );
	}

	/**
	 * The filters above the list.
	 *
	 * @param string $which top|bottom.
	 */
	protected function extra_tablenav( $which ) {
		if ( 'top' !== $which ) {
			return;
		}
		$filters = self::filters();
		$choices = array(
			'action' => array( __( 'All actions', 'wpprivsync' ), Wpprivsync_Requests_Mirror::distinct( 'action' ) ),
			'status' => array( __( 'All statuses', 'wpprivsync' ), Wpprivsync_Requests_Mirror::distinct( 'status' ) ),
			'system' => array( __( 'All systems', 'wpprivsync' ), self::SYSTEMS ),
			'source' => array( __( 'All sources', 'wpprivsync' ), self::SOURCES ),
		);
		echo '<div class="alignleft actions wpprivsync-filters">';
		foreach ( $choices as $key => $choice ) {
			$id = 'wpprivsync-filter-' . $key;
			echo '<label class="screen-reader-text" for="' . esc_attr( $id ) . '">' . esc_html( $choice[0] ) . '</label>';
			echo '<select name="' . esc_attr( 'wpprivsync_' . $key ) . '" id="' . esc_attr( $id ) . '">';
			echo '<option value="">' . esc_html( $choice[0] ) . '</option>';
			foreach ( $choice[1] as $value ) {
				echo '<option value="' . esc_attr( $value ) . '"' . selected( $filters[ $key ], $value, false ) . '>' . esc_html( $value ) . '</option>';
			}
			echo '</select>';
		}
		submit_button( __( 'Filter', 'wpprivsync' ), '', 'wpprivsync-filter', false, array( 'id' => 'wpprivsync-filter-submit' ) );
		echo '</div>';
	}

	/**
	 * Row marks: overdue (open and past due) and near the deadline.
	 *
	 * @param array $item Row.
	 * @return string overdue|near|''
	 */
	public static function deadline_state( array $item ) {
		if ( ! in_array( $item['status'], array( 'open', 'failed' ), true ) ) {
			return '';
		}
		$left = strtotime( $item['due_at'] . ' UTC' ) - time();
		if ( $left < 0 ) {
			return 'overdue';
		}
		return $left <= self::NEAR_DAYS * DAY_IN_SECONDS ? 'near' : '';
	}

	/**
	 * One row, with its deadline mark as a class and data attribute.
	 *
	 * @param array $item Row.
	 */
	public function single_row( $item ) {
		$mark = self::deadline_state( $item );
		echo '<tr class="wpprivsync-request-row' . ( $mark ? ' wpprivsync-' . esc_attr( $mark ) : '' ) . '" data-request-id="' . esc_attr( (string) $item['id'] ) . '" data-deadline="' . esc_attr( $mark ) . '">';
		$this->single_row_columns( $item );
		echo '</tr>';
	}

	/**
	 * A UTC MySQL datetime in the site's format.
	 *
	 * @param string|null $sql Datetime.
	 * @return string
	 */
	public static function when( $sql ) {
		if ( empty( $sql ) ) {
			return '—';
		}
		return wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), strtotime( $sql . ' UTC' ) );
	}

	/**
	 * Plain columns.
	 *
	 * @param array  $item   Row.
	 * @param string $column Column.
	 * @return string
	 */
	protected function column_default( $item, $column ) {
		switch ( $column ) {
			case 'action':
			case 'status':
			case 'source':
				return esc_html( (string) $item[ $column ] );
			case 'received_at':
				return esc_html( self::when( $item['received_at'] ) );
			case 'person':
				$hash = (string) $item['email_hash'];
				if ( '' === $hash ) {
					return '—';
				}
				$url = add_query_arg(
					array(
						'page'            => Wpprivsync_Admin::PAGE,
						'tab'             => 'requests',
						'wpprivsync_hash' => $hash,
					),
					admin_url( 'tools.php' )
				);
				return '<a href="' . esc_url( $url ) . '" title="' . esc_attr__( 'This person\'s requests', 'wpprivsync' ) . '"><code>' . esc_html( substr( $hash, 0, 12 ) ) . '</code></a>';
		}
		return '';
	}

	/**
	 * The request id.
	 *
	 * @param array $item Row.
	 * @return string
	 */
	protected function column_id( $item ) {
		return '<strong>' . esc_html( (string) $item['id'] ) . '</strong>';
	}

	/**
	 * Due date and countdown (words, not only colour).
	 *
	 * @param array $item Row.
	 * @return string
	 */
	protected function column_due_at( $item ) {
		$out  = esc_html( self::when( $item['due_at'] ) );
		$mark = self::deadline_state( $item );
		$left = strtotime( $item['due_at'] . ' UTC' ) - time();
		if ( 'overdue' === $mark ) {
			/* translators: %s: time span, e.g. 3 days. */
			$text = sprintf( __( 'overdue by %s', 'wpprivsync' ), human_time_diff( time() + $left, time() ) );
		} elseif ( ! in_array( $item['status'], array( 'open', 'failed' ), true ) ) {
			$text = '';
		} else {
			/* translators: %s: time span, e.g. 3 days. */
			$text = sprintf( __( '%s left', 'wpprivsync' ), human_time_diff( time(), time() + $left ) );
		}
		if ( '' !== $text ) {
			$out .= '<br /><span class="wpprivsync-countdown' . ( $mark ? ' wpprivsync-' . esc_attr( $mark ) : '' ) . '">' . ( 'near' === $mark ? '&#9888; ' : '' ) . ( 'overdue' === $mark ? '&#10007; ' : '' ) . esc_html( $text ) . '</span>';
		}
		return $out;
	}

	/**
	 * Each system's state.
	 *
	 * @param array $item Row.
	 * @return string
	 */
	protected function column_systems( $item ) {
		$out = '';
		foreach ( Wpprivsync_Requests_Mirror::systems( $item ) as $system => $state ) {
			$out .= '<span class="wpprivsync-system" data-system="' . esc_attr( (string) $system ) . '" data-state="' . esc_attr( (string) $state ) . '">' . esc_html( $system . ': ' . $state ) . '</span><br />';
		}
		return $out;
	}

	/**
	 * Retained-until date and the export download.
	 *
	 * @param array $item Row.
	 * @return string
	 */
	protected function column_retained_until( $item ) {
		$out  = esc_html( (string) $item['retained_until'] );
		$link = empty( $item['export_url'] ) ? '' : Wpprivsync_Exports::link_for( (string) $item['export_url'] );
		if ( '' !== $link && current_user_can( Wpprivsync_Admin_Caps::EXPORT ) ) {
			$out .= ' <a class="wpprivsync-export-link" href="' . esc_url( $link ) . '">' . esc_html__( 'Download export', 'wpprivsync' ) . '</a>';
		}
		return $out;
	}

	/**
	 * Open manual tasks.
	 *
	 * @param array $item Row.
	 * @return string
	 */
	protected function column_tasks( $item ) {
		$out = '';
		foreach ( Wpprivsync_Requests_Mirror::tasks( $item ) as $task ) {
			$out .= '<span class="wpprivsync-row-task' . ( empty( $task['overdue'] ) ? '' : ' wpprivsync-overdue' ) . '" data-task-id="' . esc_attr( (string) $task['id'] ) . '">'
				. esc_html( '#' . $task['id'] . ' ' . $task['what'] . ( empty( $task['overdue'] ) ? '' : ' — ' . __( 'overdue', 'wpprivsync' ) ) ) . '</span><br />';
		}
		return $out;
	}
}
